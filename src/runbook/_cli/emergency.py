"""``runbook rollback`` (verified, within a deadline) and ``runbook rollback-alert`` (best-effort Slack).

Light on purpose, like every control command: the store and Slack load inside the handlers.
``scripts/emergency_rollback.sh`` calls both.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook._cli.control import StoreSettings
    from runbook.control._verify import RollbackReport
    from runbook.domain.state import ComponentState

ALL_COMPONENTS = "all_components"


def register(subparsers: Any) -> None:
    """Add ``rollback-alert`` (the rollback parser itself is built with the other control commands)."""
    alert = subparsers.add_parser("rollback-alert", help="tell Slack about a rollback (best effort, bounded)")
    alert.add_argument("component")
    alert.add_argument("--reason", default="")
    alert.add_argument("--elapsed-ms", type=int, default=0)
    alert.add_argument("--source", default="runbook rollback")
    alert.set_defaults(handler=rollback_alert, settings_factory=_store_settings)


def rollback(args: argparse.Namespace, settings: StoreSettings) -> int:
    """``runbook rollback``: roll back, read back, print what was verified (exit 1 if not)."""
    from runbook.control.emergency import verified_rollback

    return _report(args, verified_rollback(**_rollback_arguments(args, settings)))


def fast_rollback(args: argparse.Namespace, settings: StoreSettings) -> int:
    """``runbook rollback`` on the DB-API (``runbook.control.fast_rollback``); a store that path does
    not handle (nothing written) goes to the full path, within what is left of the deadline."""
    from runbook.control.fast_rollback import NotHandled, fast_verified_rollback

    started = time.monotonic()
    try:
        report = fast_verified_rollback(**_rollback_arguments(args, settings))
    except NotHandled:
        left = settings.rollback_deadline_s - (time.monotonic() - started)
        return rollback(args, dataclasses.replace(settings, rollback_deadline_s=left))
    return _report(args, report)


def _rollback_arguments(args: argparse.Namespace, settings: StoreSettings) -> dict[str, Any]:
    def retrying(attempt: int, exc: Exception, delay: float) -> None:
        print(f"runbook: rollback attempt {attempt} failed ({exc}); retrying in {delay:g} s", file=sys.stderr)

    return {
        "url": settings.resolved_database_url, "target": args.component, "actor": args.actor,
        "reason": args.reason, "timeout_s": settings.store_timeout_s,
        "deadline_s": settings.rollback_deadline_s, "on_retry": retrying,
    }  # fmt: skip


def _report(args: argparse.Namespace, report: RollbackReport) -> int:
    for note in report.notes:
        print(f"note: {note} (the rollback itself is never refused)")
    for name, after in report.changed.items():
        before = report.before[name]
        if after.epoch == before.epoch:
            print(f"{name}: already {after.mode.value}; nothing to roll back (recorded in the audit log)")
        else:
            change = f"{describe(before)} -> {after.mode.value} (epoch {after.epoch})"
            print(f"{name}: {change}; all traffic on legacy")
    if args.component == ALL_COMPONENTS:
        unchanged = [f"{n} ({s.mode.value})" for n, s in report.before.items() if n not in report.changed]
        print(f"rolled back {len(report.changed)} component(s); unchanged: {', '.join(unchanged) or 'none'}")
    shown = ", ".join(f"{n}={s.mode.value}@epoch{s.epoch}" for n, s in report.verified.items())
    print(f"verified: {shown} (read back from {report.store})")
    return 0


def _store_settings() -> StoreSettings:
    from runbook._cli.control import StoreSettings

    return StoreSettings.from_environ()


def rollback_alert(args: argparse.Namespace, settings: StoreSettings) -> int:  # noqa: ARG001 - every command handler takes (args, settings)
    """Send the rollback alert when a bot token is configured; exit 0 either way unless Slack fails."""
    from runbook.settings import load_settings

    full = load_settings()
    if not full.slack_bot_token:
        print("slack alert: skipped (RUNBOOK_SLACK_BOT_TOKEN not set)")
        return 0
    from runbook.slack.notifier import make_notifier

    evidence = {"source": args.source, "elapsed_ms": args.elapsed_ms}
    make_notifier(full).rollback_alert(args.component, reason=args.reason, evidence=evidence, automatic=False)
    print("slack alert: sent")
    return 0


def describe(state: ComponentState) -> str:
    if state.mode.value == "canary":
        return f"canary {state.traffic_percent:g}%"
    return state.mode.value
