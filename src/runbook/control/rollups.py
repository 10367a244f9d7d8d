"""Observation rollups: per component, mode, epoch, route and minute, kept for good; raw rows pruned.

``RollupStore`` only stores and reads; what a rollup counts (calculation errors, mismatches) is
decided by ``runbook.monitoring`` when it rolls a minute up. Every raw row with ``at`` below the
watermark is in a rollup, so pruning raw rows below it loses no figure the monitor reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, insert, select, update

from runbook.control.models import ObservationRollupRow, ObservationRow, RollupWatermarkRow
from runbook.domain.sketch import LatencySketch

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["DEFAULT_RETENTION_DAYS", "RollupRecord", "RollupStore", "minute_of"]

DEFAULT_RETENTION_DAYS = 7.0
_ROLLUPS = cast(Table, ObservationRollupRow.__table__)
_RAW = cast(Table, ObservationRow.__table__)
_WATERMARK = cast(Table, RollupWatermarkRow.__table__)
_NAME = "observations"
_SKETCHES = ("candidate_latency", "legacy_latency")


def minute_of(at: float) -> int:
    """The Unix minute (seconds // 60) an instant falls in."""
    return math.floor(at / 60.0)


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """One minute of one component's observations on one route, mode and epoch.

    Latency sketches in microseconds, memory in bytes, ``first_at`` / ``last_at`` Unix seconds.
    """

    component: str
    minute: int
    mode: str
    epoch: int
    route: str
    observations: int
    candidate_calls: int
    calculation_errors: int
    skipped: int
    comparisons: int
    mismatches: int
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    max_rel_difference: float | None = None
    candidate_latency: LatencySketch = field(default_factory=LatencySketch)
    legacy_latency: LatencySketch = field(default_factory=LatencySketch)
    peak_candidate_memory_bytes: int = 0
    peak_legacy_memory_bytes: int = 0
    first_at: float = 0.0
    last_at: float = 0.0


_COLUMNS = tuple(f.name for f in fields(RollupRecord))


class RollupStore:
    """Reads and writes ``observation_rollups``, the watermark, and prunes raw observations."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def watermark(self) -> float | None:
        """Unix seconds below which every raw observation is rolled up; None before the first rollup."""
        with self._store.read() as conn:
            value = conn.execute(select(_WATERMARK.c.rolled_until).where(_WATERMARK.c.name == _NAME))
            found = value.scalar_one_or_none()
        return None if found is None else float(found)

    def oldest_raw(self, *, since: float | None = None) -> float | None:
        """``at`` of the oldest raw observation kept (at or after ``since``); None when there is none."""
        query = select(_RAW.c.at).order_by(_RAW.c.at).limit(1)
        if since is not None:
            query = query.where(_RAW.c.at >= since)
        with self._store.read() as conn:
            found = conn.execute(query).scalar_one_or_none()
        return None if found is None else float(found)

    def replace(self, records: Sequence[RollupRecord], *, start: float, end: float) -> None:
        """Rollups of the minutes in [start, end) become ``records``; the watermark moves to ``end``.

        One transaction, so a rerun over the same minutes replaces rather than double counts.
        """
        with self._store.write() as conn:
            conn.execute(
                delete(_ROLLUPS).where(
                    _ROLLUPS.c.minute >= minute_of(start), _ROLLUPS.c.minute < minute_of(end)
                )
            )
            if records:
                conn.execute(insert(_ROLLUPS), [_to_row(r) for r in records])
            moved = conn.execute(
                update(_WATERMARK).where(_WATERMARK.c.name == _NAME).values(rolled_until=end)
            ).rowcount
            if not moved:
                conn.execute(insert(_WATERMARK).values(name=_NAME, rolled_until=end))

    def read(
        self,
        component: str,
        *,
        first_minute: int,
        end_minute: int,
        mode: str | None = None,
        epoch: int | None = None,
    ) -> list[RollupRecord]:
        """``component``'s rollups with ``first_minute <= minute < end_minute``, oldest first."""
        conditions = [
            _ROLLUPS.c.component == component,
            _ROLLUPS.c.minute >= first_minute,
            _ROLLUPS.c.minute < end_minute,
        ]
        if mode is not None:
            conditions.append(_ROLLUPS.c.mode == mode)
        if epoch is not None:
            conditions.append(_ROLLUPS.c.epoch == epoch)
        query = (
            select(*(_ROLLUPS.c[name] for name in _COLUMNS)).where(*conditions).order_by(_ROLLUPS.c.minute)
        )
        with self._store.read() as conn:
            return [_from_row(row) for row in conn.execute(query)]

    def delete_raw_before(self, cutoff: float, *, step_s: float = 3600.0) -> int:
        """Delete raw observations with ``at < cutoff``, an hour per transaction; return rows deleted.

        Short transactions keep the routers' batched inserts from waiting behind one long delete. On
        SQLite they commit without an fsync: a delete lost to a power cut only leaves rows already
        rolled up, deleted again by the next prune.
        """
        deleted = 0
        while (oldest := self.oldest_raw()) is not None and oldest < cutoff:
            bound = min(oldest + step_s, cutoff)
            with self._store.write(exclusive=False, durable=False) as conn:
                deleted += conn.execute(delete(_RAW).where(_RAW.c.at < bound)).rowcount or 0
        return deleted


def _to_row(record: RollupRecord) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in _COLUMNS}
    row["errors_by_kind"] = json.dumps(record.errors_by_kind, sort_keys=True)
    for name in _SKETCHES:
        row[name] = getattr(record, name).to_json()
    return row


def _from_row(row: Sequence[Any]) -> RollupRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["errors_by_kind"] = json.loads(values["errors_by_kind"] or "{}")
    for name in _SKETCHES:
        values[name] = LatencySketch.from_json(values[name])
    return RollupRecord(**values)
