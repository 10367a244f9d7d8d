"""``runbook incident COMPONENT [--since T]``: the incident's assessment (ADR-0011's "Assess" step).

Prints the audit timeline, what triggered each rollback, the calls seen, and every routing key that
received a candidate answer differing from legacy beyond tolerance, with when and both values.
Reads only the store (its URL, like the control commands): no Prefect, Slack or pandas.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runbook.errors import BadParameter

if TYPE_CHECKING:
    from runbook._cli.control import StoreSettings
    from runbook.monitoring.incident import Incident

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DEFAULT_SINCE = "24h"


def register(subparsers: Any) -> None:
    """Add ``runbook incident``."""
    from runbook._cli.control import StoreSettings

    parser = subparsers.add_parser("incident", help="timeline, trigger and wrong answers served")
    parser.add_argument("component")
    parser.add_argument(
        "--since", default=DEFAULT_SINCE, help="ISO 8601 time (UTC if no offset) or an age: 30m, 6h, 2d"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=_incident, settings_factory=StoreSettings.from_environ)


def parse_since(text: str, *, now: float | None = None) -> float:
    """``--since`` as Unix seconds; BadParameter naming the value and what is allowed."""
    now = time.time() if now is None else now
    match = _RELATIVE.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadParameter(
            f"--since {text!r} is neither an ISO 8601 time (2026-12-02T15:00:00Z) nor an age (30m, 6h, 2d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _incident(args: argparse.Namespace, settings: StoreSettings) -> int:
    from runbook._cli.control import _open
    from runbook.domain.components import parse_component
    from runbook.monitoring.incident import as_json, assess

    component = parse_component(args.component).value
    since = parse_since(args.since)
    store = _open(settings)
    try:
        incident = assess(store, component, since=since)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps(as_json(incident), indent=2))
    else:
        print("\n".join(render(incident)))
    return 0


def render(incident: Incident) -> list[str]:
    """The report as lines of text."""
    from runbook.monitoring.incident import iso

    lines = [f"incident: {incident.component} since {iso(incident.since)}", "", "timeline (audit log):"]
    lines += [_timeline_line(e) for e in incident.timeline] or ["  (no audit rows)"]
    lines += ["", "triggered by:"]
    lines += [_trigger_line(t) for t in incident.triggers] or ["  no rollback in the window"]
    calls = ", ".join(f"{mode} {n}" for mode, n in incident.calls_by_mode.items()) or "none"
    errors = ", ".join(f"{kind} {n}" for kind, n in incident.errors_by_kind.items()) or "none"
    served = incident.served_mismatches
    lines += [
        "",
        f"calls observed: {calls}; error kinds: {errors}",
        "",
        f"candidate answers served that differ from legacy beyond tolerance: {len(served)} calls, "
        f"{len(incident.keys)} routing keys (compared but not served: {incident.unserved_mismatches})",
    ]
    if incident.served_mismatches_pruned:
        lines.append(
            f"  and {incident.served_mismatches_pruned} more served before the raw retention window: "
            "counted from minute rollups, no keys or values kept"
        )
    for m in served:
        legacy, candidate = m.legacy_value or "(not kept)", m.candidate_value or "(not kept)"
        kept = "  request kept" if m.request_kept else ""
        lines.append(
            f"  {m.routing_key}  at {iso(m.at)}  ({m.mode})  legacy {legacy}  candidate {candidate}  "
            f"abs {_num(m.abs_difference)}  rel {_num(m.rel_difference)}{kept}"
        )
    return lines


def _timeline_line(entry: Any) -> str:
    reason = f": {entry.reason}" if entry.reason else ""
    at = entry.at.isoformat(timespec="seconds")
    return f"  {at}  {entry.action:<20} {_move(entry)}  by {entry.actor}{reason}"


def _trigger_line(trigger: Any) -> str:
    checks = f" (failed checks: {', '.join(trigger.failed_checks)})" if trigger.failed_checks else ""
    return (
        f"  {trigger.at.isoformat(timespec='seconds')}  rollback by {trigger.actor}{checks}: {trigger.reason}"
    )


def _move(entry: Any) -> str:
    def side(mode: str | None, fraction: float | None) -> str:
        if mode == "canary" and fraction is not None:
            return f"canary {fraction * 100:g}%"
        return mode or "-"

    if entry.to_mode is None:  # not a mode change (a verdict, a gate decision)
        return ""
    return f"{side(entry.from_mode, entry.from_fraction)} -> {side(entry.to_mode, entry.to_fraction)}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
