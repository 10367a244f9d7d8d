"""Bounded observations: roll raw rows up per minute, prune them after a window, read windows back.

A rollup is the ``HealthSummary`` of one component, mode, epoch, route and minute (so every count
means what the monitor means by it), latencies kept as mergeable sketches. The monitor's window is
read as rollups for the whole minutes already rolled up plus raw rows for the edges: a window of
any length costs a few rollup rows and at most a couple of minutes of raw rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook.control.rollups import DEFAULT_RETENTION_DAYS, RollupRecord, RollupStore, minute_of
from runbook.domain.observation import Observation
from runbook.domain.sketch import LatencySketch
from runbook.errors import BadParameter
from runbook.monitoring._health import HealthSummary, summarize

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["PruneOutcome", "RollupOutcome", "prune_observations", "roll_up", "window_summary"]

DAY_S = 86_400.0
# Observations reach the store in batches a few seconds after the call: a minute is rolled up only
# once it ended this long ago, so late rows of a batch still land in it.
SETTLE_S = 30.0
# Raw rows a rollup step aims to aggregate (a few seconds of database time), and its longest step.
_STEP_ROWS = 2_000_000
_MAX_STEP_MINUTES = 1_440


@dataclass(frozen=True, slots=True)
class RollupOutcome:
    """What a rollup did: raw rows read, rollup rows written, watermark (Unix seconds) after it."""

    raw_rows: int
    rollups: int
    rolled_until: float | None


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What a prune did: the rollup first, then raw rows older than ``cutoff`` deleted."""

    rollup: RollupOutcome
    deleted: int
    cutoff: float
    retention_days: float


def roll_up(store: Store, *, now: float, step_s: float = 600.0) -> RollupOutcome:
    """Roll up every whole minute that ended more than SETTLE_S before ``now`` and is not yet rolled.

    The database aggregates (``_rollup_sql``); each step is one read and one short write. Steps start
    at ``step_s`` and adapt so that each aggregates about ``_STEP_ROWS`` raw rows: sparse days go in
    a few steps, a firm's 20,000 observations a second in steps of a couple of minutes.
    """
    from runbook.monitoring._rollup_sql import records_between

    rollups = RollupStore(store)
    start = rollups.watermark()
    if start is None:
        oldest = rollups.oldest_raw()
        start = None if oldest is None else 60.0 * minute_of(oldest)
    end = 60.0 * minute_of(now - SETTLE_S)
    if start is None or start >= end:
        return RollupOutcome(0, 0, rollups.watermark())
    raw_rows = written = 0
    step = max(60.0, 60.0 * round(step_s / 60.0))
    while start < end:
        start = _skip_gap(rollups, start, end)
        stop = min(start + step, end)
        records = records_between(store, start, stop)
        rollups.replace(records, start=start, end=stop)
        rows = sum(r.observations for r in records)
        raw_rows, written, start = raw_rows + rows, written + len(records), stop
        step = _next_step(step, rows)
    return RollupOutcome(raw_rows, written, end)


def _next_step(step: float, rows: int) -> float:
    """A whole number of minutes, 1 to 1,440, aiming at _STEP_ROWS rows (at most doubling)."""
    aimed = step * _STEP_ROWS / rows if rows else 2.0 * step
    return 60.0 * min(_MAX_STEP_MINUTES, max(1, math.floor(min(aimed, 2.0 * step) / 60.0)))


def _skip_gap(rollups: RollupStore, start: float, end: float) -> float:
    """The minute of the next raw row at or after ``start`` (``end`` when none): empty hours cost nothing."""
    following = rollups.oldest_raw(since=start)
    if following is None or following >= end:
        return end
    return max(start, 60.0 * minute_of(following))


def prune_observations(
    store: Store, *, now: float, retention_days: float = DEFAULT_RETENTION_DAYS
) -> PruneOutcome:
    """Roll up, then delete raw observations older than ``retention_days`` (never any not rolled up)."""
    if not math.isfinite(retention_days) or retention_days < 0:
        raise BadParameter(f"retention {retention_days!r} days must be a number >= 0")
    outcome = roll_up(store, now=now)
    cutoff = now - retention_days * DAY_S
    if outcome.rolled_until is not None:
        cutoff = min(cutoff, outcome.rolled_until)
    deleted = RollupStore(store).delete_raw_before(cutoff) if outcome.rolled_until is not None else 0
    return PruneOutcome(outcome, deleted, cutoff, retention_days)


def records_of(observations: Iterable[Observation]) -> list[RollupRecord]:
    """One RollupRecord per component, minute, mode, epoch and route present in ``observations``."""
    groups: dict[tuple[str, int, str, int, str], list[Observation]] = defaultdict(list)
    for o in observations:
        groups[(o.component, minute_of(o.at), o.mode, o.epoch, str(o.route))].append(o)
    return [_record(key, summarize(rows)) for key, rows in sorted(groups.items())]


def _record(key: tuple[str, int, str, int, str], s: HealthSummary) -> RollupRecord:
    component, minute, mode, epoch, route = key
    return RollupRecord(
        component, minute, mode, epoch, route, s.observations, s.candidate_calls, s.calculation_errors,
        s.skipped, s.comparisons, s.mismatches, dict(s.errors_by_kind), s.max_rel_difference,
        LatencySketch.of(s.candidate_latencies_us), LatencySketch.of(s.legacy_latencies_us),
        s.peak_candidate_memory_bytes, s.peak_legacy_memory_bytes, s.first_at or 0.0, s.last_at or 0.0,
    )  # fmt: skip


def window_summary(
    store: Store, component: str, *, since: float, until: float, mode: str | None, epoch: int | None
) -> HealthSummary:
    """The health of ``component`` over ``since <= at < until`` (one mode / epoch when given).

    Whole minutes below the watermark come from rollups; the rest from raw rows. A window that
    covers no whole rolled-up minute is summarized from raw rows exactly as before.
    """
    from runbook.control.observations import ObservationStore

    rollups = RollupStore(store)
    first = math.ceil(since / 60.0)
    rolled_until = rollups.watermark()
    end = first if rolled_until is None else min(minute_of(until), minute_of(rolled_until))
    raw = ObservationStore(store)

    def rows(lo: float, hi: float) -> list[Observation]:
        found = raw.window(component, since=lo, until=hi, mode=mode) if lo < hi else []
        return [o for o in found if epoch is None or o.epoch == epoch]

    if end <= first:
        return summarize(rows(since, until), component=component)
    records = rollups.read(component, first_minute=first, end_minute=end, mode=mode, epoch=epoch)
    edges = rows(since, 60.0 * first) + rows(60.0 * end, until)
    return merge(component, records, edges)


def merge(component: str, records: Sequence[RollupRecord], raw: Sequence[Observation]) -> HealthSummary:
    """One HealthSummary of rollups plus raw observations (latencies as sketches)."""
    parts = list(records) + records_of(raw)
    candidate, legacy = LatencySketch(), LatencySketch()
    errors: dict[str, int] = defaultdict(int)
    for p in parts:
        candidate.merge(p.candidate_latency)
        legacy.merge(p.legacy_latency)
        for kind, count in p.errors_by_kind.items():
            errors[kind] += count
    rel = [p.max_rel_difference for p in parts if p.max_rel_difference is not None]
    return HealthSummary(
        component=component,
        modes=tuple(sorted({p.mode for p in parts})),
        observations=sum(p.observations for p in parts),
        candidate_routed=sum(p.observations for p in parts if p.route == "candidate"),
        legacy_routed=sum(p.observations for p in parts if p.route == "legacy"),
        candidate_calls=sum(p.candidate_calls for p in parts),
        calculation_errors=sum(p.calculation_errors for p in parts),
        skipped=sum(p.skipped for p in parts),
        comparisons=sum(p.comparisons for p in parts),
        mismatches=sum(p.mismatches for p in parts),
        max_rel_difference=max(rel, default=None, key=lambda v: math.inf if math.isnan(v) else v),
        candidate_latencies_us=(),
        legacy_latencies_us=(),
        peak_candidate_memory_bytes=max((p.peak_candidate_memory_bytes for p in parts), default=0),
        peak_legacy_memory_bytes=max((p.peak_legacy_memory_bytes for p in parts), default=0),
        first_at=min((p.first_at for p in parts), default=None),
        last_at=max((p.last_at for p in parts), default=None),
        errors_by_kind=dict(sorted(errors.items())),
        candidate_latency_sketch=candidate,
        legacy_latency_sketch=legacy,
    )
