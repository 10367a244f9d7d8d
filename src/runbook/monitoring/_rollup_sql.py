"""Minute rollups computed by the database: GROUP BY component, minute, mode, epoch and route.

The same figures as ``records_of`` (``summarize`` per group, the definitions in ``_health``), from
one aggregate query over the raw rows of a time range, so no raw row travels to Python. The query
groups by the rollup's key and, within it, by error kind and by the latency sketches' buckets
(``ceil(ln(x) / ln(gamma))``, the sketch's own formula; a value <= 0 in the zero bucket): a few
rows per minute, folded here into one RollupRecord per key. The database's ``ln`` is the C
library's ``log``, as Python's ``math.log``: a value lands in the bucket ``LatencySketch.add`` chooses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Table,
    and_,
    case,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy import cast as sql_cast

from runbook.control.models import ObservationRow
from runbook.control.rollups import RollupRecord
from runbook.domain.observation import ErrorKind, Route
from runbook.domain.sketch import LOG_GAMMA, LatencySketch
from runbook.monitoring._health import CALCULATION_ERRORS, DEFAULT_REL_TOLERANCE

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["records_between"]

_RAW = cast(Table, ObservationRow.__table__)
_Key = tuple[str, int, str, int, str]
_CALCULATION = sorted(str(kind) for kind in CALCULATION_ERRORS)
# The zero bucket's index in query rows: below any positive double's (5e-324 is in bucket -37,221).
_ZERO_BUCKET = -1_000_000


def records_between(
    store: Store,
    start: float,
    end: float,
    *,
    rel_tolerance: float = DEFAULT_REL_TOLERANCE,
    abs_tolerance: float = 0.0,
) -> list[RollupRecord]:
    """One RollupRecord per component, minute, mode, epoch and route of the raw rows in [start, end)."""
    c = _RAW.c
    kind = c.error_kind
    ran = and_(
        kind != str(ErrorKind.SKIPPED),
        or_(c.route == str(Route.CANDIDATE), c.candidate_latency_us.is_not(None), kind.in_(_CALCULATION)),
    )
    small_abs = and_(c.abs_difference.is_not(None), c.abs_difference <= literal(abs_tolerance, Float))
    within = c.rel_difference <= literal(rel_tolerance, Float)
    beyond = and_(c.rel_difference.is_not(None), not_(small_abs), not_(within))
    groups = (
        sql_cast(func.floor(c.at / literal(60.0, Float)), BigInteger),
        c.component, c.mode, c.epoch, c.route, kind,
        _bucket(c.candidate_latency_us, ran), _bucket(c.legacy_latency_us, None),
    )  # fmt: skip
    query = (
        select(
            *groups,
            func.count(),
            _count_if(ran),
            _count_if(or_(c.rel_difference.is_not(None), kind == str(ErrorKind.MISMATCH))),
            _count_if(or_(kind == str(ErrorKind.MISMATCH), beyond)),
            func.max(c.rel_difference),
            func.max(case((and_(ran, c.memory_bytes > 0), c.memory_bytes))),
            func.max(case((not_(ran), c.memory_bytes))),
            func.min(c.at),
            func.max(c.at),
        )
        .where(c.at >= literal(start, Float), c.at < literal(end, Float))
        .group_by(*(literal_column(str(i + 1)) for i in range(len(groups))))  # by position: computed once
    )
    with store.read(timeout_s=store.bulk_timeout_s) as conn:
        rows = conn.execute(query).all()
    folds: dict[_Key, _Fold] = {}
    for row in rows:
        minute, component, mode, epoch, route, error_kind = row[:6]
        key = (str(component), int(minute), str(mode), int(epoch), str(route))
        fold = folds.get(key)
        if fold is None:
            fold = folds[key] = _Fold()
        fold.add(str(error_kind), *row[6:])
    return [fold.record(key) for key, fold in sorted(folds.items())]


class _Fold:
    """One rollup key's query rows added up."""

    __slots__ = ("candidate", "counts", "errors", "first_at", "last_at", "legacy", "max_rel", "peaks")

    def __init__(self) -> None:
        # observations, candidate calls, calculation errors, skipped, comparisons, mismatches
        self.counts = [0, 0, 0, 0, 0, 0]
        self.errors: dict[str, int] = {}
        self.max_rel: float | None = None
        self.peaks: list[int | None] = [None, None]  # candidate, legacy
        self.first_at, self.last_at = math.inf, -math.inf
        self.candidate, self.legacy = LatencySketch(), LatencySketch()

    def add(self, kind: str, candidate_bucket: Any, legacy_bucket: Any, n: Any, ran: Any, compared: Any,
            mismatched: Any, max_rel: Any, peak_candidate: Any, peak_legacy: Any, first_at: Any,
            last_at: Any) -> None:  # fmt: skip
        n = int(n)
        counts = self.counts
        counts[0] += n
        counts[1] += int(ran)
        counts[2] += n if kind in _CALCULATION else 0
        counts[3] += n if kind == ErrorKind.SKIPPED.value else 0
        counts[4] += int(compared)
        counts[5] += int(mismatched)
        if kind != ErrorKind.NONE.value:
            self.errors[kind] = self.errors.get(kind, 0) + n
        if max_rel is not None:
            rel = float(max_rel)
            if self.max_rel is None or _nan_last(rel) > _nan_last(self.max_rel):
                self.max_rel = rel
        for i, peak in enumerate((peak_candidate, peak_legacy)):
            if peak is not None and (self.peaks[i] is None or int(peak) > cast(int, self.peaks[i])):
                self.peaks[i] = int(peak)
        self.first_at, self.last_at = min(self.first_at, float(first_at)), max(self.last_at, float(last_at))
        _count(self.candidate, candidate_bucket, n)
        _count(self.legacy, legacy_bucket, n)

    def record(self, key: _Key) -> RollupRecord:
        observations, calls, calculation_errors, skipped, comparisons, mismatches = self.counts
        return RollupRecord(
            *key, observations, calls, calculation_errors, skipped, comparisons, mismatches,
            dict(sorted(self.errors.items())), self.max_rel, self.candidate, self.legacy,
            self.peaks[0] or 0, self.peaks[1] or 0, self.first_at, self.last_at,
        )  # fmt: skip


def _count(sketch: LatencySketch, bucket: Any, n: int) -> None:
    if bucket is None:
        return  # no finite latency counted for this route
    if int(bucket) == _ZERO_BUCKET:
        sketch.zeros += n
    else:
        sketch.buckets[int(bucket)] = sketch.buckets.get(int(bucket), 0) + n


def _nan_last(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _bucket(latency: Any, only: ColumnElement[bool] | None) -> ColumnElement[Any]:
    """The latency's sketch bucket, _ZERO_BUCKET for <= 0, NULL when not counted (missing, not
    finite, or not a candidate call for ``only``)."""
    counted = and_(  # never NULL: a NULL latency must take the first branch below
        latency.is_not(None), latency > literal(-math.inf, Float), latency < literal(math.inf, Float)
    )
    if only is not None:
        counted = and_(only, counted)
    return case(
        (not_(counted), null()),
        (latency > 0, sql_cast(func.ceil(func.ln(latency) / literal(LOG_GAMMA, Float)), Integer)),
        else_=literal(_ZERO_BUCKET, Integer),
    )
