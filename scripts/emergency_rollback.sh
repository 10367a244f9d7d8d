#!/usr/bin/env bash
# Emergency rollback (ADR-0011, "Immediate Rollback Protocol"):
#
#   ./scripts/emergency_rollback.sh var_engine
#   ./scripts/emergency_rollback.sh hedge_calculator --reason "hedge ratios off by 20%"
#   ./scripts/emergency_rollback.sh all_components
#
# Sends all traffic of the component(s) back to the legacy implementation by writing the state
# store (RUNBOOK_DATABASE_URL, default SQLite under RUNBOOK_HOME), through `runbook rollback`: it
# needs neither the Prefect server nor Slack, retries an unavailable store until its deadline
# (RUNBOOK_ROLLBACK_DEADLINE_S, default 25 s; every store access bounded by RUNBOOK_STORE_TIMEOUT_S),
# and prints "verified" only after reading the state back from the store file routers read.
# Exit codes: 0 rolled back and verified (or already on legacy), 1 not done, 2 bad input.
set -uo pipefail

usage() {
  echo "usage: $0 COMPONENT|all_components [--reason TEXT] [--actor NAME]" >&2
  echo "components: market_data_provider performance_analyzer correlation_analyzer var_engine hedge_calculator" >&2
}
bad_input() { echo "emergency_rollback: $*" >&2; usage; exit 2; }
now_ms() { date +%s%3N; }

start_ms=$(now_ms)
[[ $# -ge 1 ]] || bad_input "missing the component to roll back"
component=$1; shift
[[ $component != -* ]] || bad_input "the first argument must be a component, got option '$component'"
reason="emergency rollback (scripts/emergency_rollback.sh)"
actor_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --reason) [[ $# -ge 2 && -n $2 ]] || bad_input "--reason needs a text"; reason=$2; shift 2 ;;
    --actor) [[ $# -ge 2 && -n $2 ]] || bad_input "--actor needs a name"; actor_args=(--actor "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) bad_input "unexpected argument '$1'" ;;
  esac
done

# The project's own environment first (works from a checkout without activation), then PATH.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -x $repo/.venv/bin/runbook ]]; then
  runbook=$repo/.venv/bin/runbook
elif command -v runbook >/dev/null 2>&1; then
  runbook=$(command -v runbook)
else
  echo "emergency_rollback: cannot find the runbook command ($repo/.venv/bin/runbook or PATH); NOTHING ROLLED BACK" >&2
  exit 1
fi
echo "emergency rollback: $component (reason: $reason)"
"$runbook" rollback "$component" --reason "$reason" "${actor_args[@]}"
rc=$?
elapsed=$(( $(now_ms) - start_ms ))
if [[ $rc -eq 2 ]]; then
  echo "emergency_rollback: refused as bad input (see above); nothing was changed" >&2
  exit 2
fi
if [[ $rc -ne 0 ]]; then
  echo "emergency_rollback: FAILED after ${elapsed} ms: the rollback is not recorded and verified in the state store" >&2
  exit 1
fi
echo "emergency rollback done in ${elapsed} ms"

# Best effort, never blocking: a Slack alert when a bot token is configured.
if [[ -n ${RUNBOOK_SLACK_BOT_TOKEN:-} ]]; then
  timeout_cmd=()
  command -v timeout >/dev/null 2>&1 && timeout_cmd=(timeout 20)
  ( "${timeout_cmd[@]}" "$runbook" rollback-alert "$component" --reason "$reason" --elapsed-ms "$elapsed" \
      --source scripts/emergency_rollback.sh >/dev/null 2>&1 </dev/null & )
  echo "slack alert: sending in the background"
else
  echo "slack alert: skipped (RUNBOOK_SLACK_BOT_TOKEN not set)"
fi
exit 0
