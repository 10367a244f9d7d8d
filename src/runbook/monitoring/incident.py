"""An incident's assessment (ADR-0011's "Assess" step), read from the store: no Prefect, no Slack.

``assess(store, component, since=...)`` gathers, for one component since a moment:

- the timeline: every audit row (mode changes, rollbacks, monitor verdicts, gate decisions);
- what triggered: each rollback's reason and the monitor checks that failed in its evidence;
- the calls: observations by mode and error kind, counted by the database: minute rollups for the
  whole minutes rolled up, raw rows for the rest (so a window older than the raw retention still
  counts every call);
- the wrong answers served: every routing key whose caller received a candidate answer that
  differed from legacy's beyond tolerance (observations of route ``candidate`` flagged
  ``mismatch`` by the router's verification), with when, the differences and, where the router had
  a ``RequestCapture``, both answers and the kept request: what a risk desk restates. Served
  mismatches whose raw rows were pruned are counted from the rollups (``served_mismatches_pruned``),
  without details.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runbook.domain.observation import ErrorKind, Route

if TYPE_CHECKING:
    from runbook.control.audit import AuditEntry
    from runbook.control.store import Store

__all__ = ["Incident", "ServedMismatch", "Trigger", "as_json", "assess", "iso"]


@dataclass(frozen=True, slots=True)
class ServedMismatch:
    """One call whose caller got a candidate answer that differed from legacy's.

    ``at``: Unix seconds; differences in result units (abs) and as a fraction of |legacy| (rel);
    values as JSON text (None when the router kept no capture); ``request_kept``: the request is in
    ``captured_requests`` for replay.
    """

    routing_key: str
    at: float
    mode: str
    abs_difference: float | None
    rel_difference: float | None
    legacy_value: str | None = None
    candidate_value: str | None = None
    detail: str = ""
    request_kept: bool = False


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rollback in the window: when, by whom, why, and the monitor checks that failed."""

    at: datetime
    actor: str
    reason: str
    failed_checks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Incident:
    """Everything ``assess`` found; see the module docstring."""

    component: str
    since: float
    timeline: tuple[AuditEntry, ...]
    triggers: tuple[Trigger, ...]
    calls_by_mode: dict[str, int]
    errors_by_kind: dict[str, int]
    served_mismatches: tuple[ServedMismatch, ...]
    unserved_mismatches: int
    keys: tuple[str, ...] = field(default=())
    served_mismatches_pruned: int = 0


def assess(store: Store, component: str, *, since: float) -> Incident:
    """The incident report of ``component`` since ``since`` (Unix seconds)."""
    from runbook.control.audit import AuditLog
    from runbook.control.captures import CaptureStore
    from runbook.control.observations import ObservationStore

    entries = AuditLog(store).entries(component=component)
    timeline = tuple(e for e in entries if e.at.timestamp() >= since)
    tally = _tally(store, component, since)
    mismatched = ObservationStore(store).window(component, since=since, error_kind=str(ErrorKind.MISMATCH))
    kept = CaptureStore(store).captures(component, since=since, reason="mismatch")
    captures = {(c.routing_key, c.at): c for c in kept}
    served = []
    for o in mismatched:
        if o.route is not Route.CANDIDATE:
            continue
        capture = captures.get((o.routing_key, o.at))
        served.append(ServedMismatch(
            routing_key=o.routing_key, at=o.at, mode=o.mode, abs_difference=o.abs_difference,
            rel_difference=o.rel_difference,
            legacy_value=None if capture is None else capture.legacy_value,
            candidate_value=None if capture is None else capture.candidate_value,
            detail="" if capture is None else capture.detail,
            request_kept=capture is not None and capture.payload is not None,
        ))  # fmt: skip
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    served_count = unserved = 0
    for (mode, route, kind), n in tally.items():
        calls[mode] += n
        if kind != ErrorKind.NONE.value:
            errors[kind] += n
        if kind == ErrorKind.MISMATCH.value:
            if route == Route.CANDIDATE.value:
                served_count += n
            else:
                unserved += n
    return Incident(
        component=component, since=since, timeline=timeline, triggers=_triggers(timeline),
        calls_by_mode=dict(sorted((m, n) for m, n in calls.items() if n)),
        errors_by_kind=dict(sorted((k, n) for k, n in errors.items() if n)),
        served_mismatches=tuple(served), unserved_mismatches=unserved,
        keys=tuple(sorted({m.routing_key for m in served})),
        served_mismatches_pruned=max(0, served_count - len(served)),
    )  # fmt: skip


def _tally(store: Store, component: str, since: float) -> Counter[tuple[str, str, str]]:
    """Observations since ``since`` per (mode, route, error kind): rollups for the whole minutes
    rolled up, raw rows (counted by the database) before and after them."""
    from runbook.control.observations import ObservationStore
    from runbook.control.rollups import RollupStore, minute_of

    raw, rollups = ObservationStore(store), RollupStore(store)
    first = math.ceil(since / 60.0)
    rolled_until = rollups.watermark()
    end = first if rolled_until is None else minute_of(rolled_until)
    if end <= first:
        return Counter(raw.tally(component, since=since))
    tally = Counter(raw.tally(component, since=since, until=60.0 * first))
    tally.update(raw.tally(component, since=60.0 * end))
    for r in rollups.read(component, first_minute=first, end_minute=end):
        errors = sum(r.errors_by_kind.values())
        tally[(r.mode, r.route, ErrorKind.NONE.value)] += r.observations - errors
        for kind, n in r.errors_by_kind.items():
            tally[(r.mode, r.route, kind)] += n
    return tally


def _triggers(timeline: tuple[AuditEntry, ...]) -> tuple[Trigger, ...]:
    found = []
    for entry in timeline:
        if entry.to_mode != "rolled_back" or entry.from_mode == "rolled_back":
            continue  # not a rollback, or a repeat that changed nothing (rollback_noop)
        failed = tuple(sorted(k.removeprefix("check.") for k, v in entry.evidence.items()
                              if k.startswith("check.") and v == "fail"))  # fmt: skip
        found.append(Trigger(at=entry.at, actor=entry.actor, reason=entry.reason, failed_checks=failed))
    return tuple(found)


def as_json(incident: Incident) -> dict[str, Any]:
    """The report as JSON-able data (times as ISO 8601 UTC)."""
    return {
        "component": incident.component,
        "since": iso(incident.since),
        "timeline": [
            {"at": e.at.isoformat(), "action": e.action, "actor": e.actor, "from_mode": e.from_mode,
             "to_mode": e.to_mode, "from_fraction": e.from_fraction, "to_fraction": e.to_fraction,
             "reason": e.reason}
            for e in incident.timeline
        ],
        "triggers": [
            {"at": t.at.isoformat(), "actor": t.actor, "reason": t.reason,
             "failed_checks": list(t.failed_checks)}
            for t in incident.triggers
        ],
        "calls_by_mode": incident.calls_by_mode,
        "errors_by_kind": incident.errors_by_kind,
        "served_mismatches": [
            {"routing_key": m.routing_key, "at": iso(m.at), "mode": m.mode,
             "abs_difference": m.abs_difference, "rel_difference": m.rel_difference,
             "legacy_value": m.legacy_value, "candidate_value": m.candidate_value, "detail": m.detail,
             "request_kept": m.request_kept}
            for m in incident.served_mismatches
        ],
        "unserved_mismatches": incident.unserved_mismatches,
        "served_mismatches_pruned": incident.served_mismatches_pruned,
        "keys": list(incident.keys),
    }  # fmt: skip


def iso(unix_seconds: float) -> str:
    """Unix seconds as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat(timespec="milliseconds")
