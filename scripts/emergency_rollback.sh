#!/usr/bin/env bash
# Emergency rollback (ADR-0011, "Immediate Rollback Protocol"):
#
#   ./scripts/emergency_rollback.sh var_engine
#   ./scripts/emergency_rollback.sh hedge_calculator --reason "hedge ratios off by 20%"
#   ./scripts/emergency_rollback.sh all_components
#
# Sends all traffic of the component(s) back to the legacy implementation by writing the state
# store (RUNBOOK_DATABASE_URL, default SQLite under RUNBOOK_HOME). It needs neither the Prefect
# server nor Slack. It reads the state back and exits non-zero only if the rollback is not there.
# Exit codes: 0 rolled back (or already on legacy), 1 not recorded, 2 bad input.
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
python=$(head -n 1 "$runbook" | sed -e 's/^#![[:space:]]*//')
[[ -x ${python%% *} ]] || python=python3

echo "emergency rollback: $component (reason: $reason)"
rc=1
for attempt in 1 2 3; do
  "$runbook" rollback "$component" --reason "$reason" "${actor_args[@]}"
  rc=$?
  [[ $rc -eq 0 || $rc -eq 2 || $attempt -eq 3 ]] && break
  echo "emergency_rollback: attempt $attempt failed (exit $rc); retrying in 1 s" >&2
  sleep 1
done
if [[ $rc -eq 2 ]]; then
  echo "emergency_rollback: refused as bad input (see above); nothing was changed" >&2
  exit 2
fi

# Read the state back: success means the store now says legacy code serves the component(s).
verdict=$("$runbook" status --json 2>/dev/null | "$python" -c '
import json, sys
target = sys.argv[1]
live = {"shadow", "canary", "full"}
try:
    states = {c["component"]: c for c in json.load(sys.stdin)["components"]}
except (ValueError, KeyError, TypeError):
    print("NOT VERIFIED: could not read the state back from the store")
    sys.exit(1)
chosen = list(states.values()) if target == "all_components" else [states[target]]
bad = ["%s is %s" % (c["component"], c["mode"]) for c in chosen if c["mode"] in live]
good = ", ".join("%s=%s@epoch%d" % (c["component"], c["mode"], c["epoch"]) for c in chosen)
print(("NOT ROLLED BACK: " + "; ".join(bad)) if bad else ("verified: " + good))
sys.exit(1 if bad else 0)
' "$component" 2>&1)
verified=$?
elapsed=$(( $(now_ms) - start_ms ))
echo "$verdict"
if [[ $verified -ne 0 ]]; then
  echo "emergency_rollback: FAILED after ${elapsed} ms: the rollback is not recorded in the state store" >&2
  exit 1
fi
echo "emergency rollback done in ${elapsed} ms"

# Best effort, never blocking: a Slack alert through runbook.slack when a bot token is configured.
if [[ -n ${RUNBOOK_SLACK_BOT_TOKEN:-} ]]; then
  timeout_cmd=()
  command -v timeout >/dev/null 2>&1 && timeout_cmd=(timeout 20)
  ( "${timeout_cmd[@]}" "$python" -c '
import sys
try:
    from runbook.settings import Settings
    from runbook.slack.notifier import make_notifier
except ImportError:
    sys.exit(0)
component, reason, elapsed_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
evidence = {"source": "scripts/emergency_rollback.sh", "elapsed_ms": elapsed_ms}
make_notifier(Settings()).rollback_alert(component, reason=reason, evidence=evidence, automatic=False)
' "$component" "$reason" "$elapsed" >/dev/null 2>&1 </dev/null & )
  echo "slack alert: sending in the background"
else
  echo "slack alert: skipped (RUNBOOK_SLACK_BOT_TOKEN not set)"
fi
exit 0
