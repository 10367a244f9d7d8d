"""The health of one component over a window of observations: counts, latencies, memory (pure).

Definitions (what every figure in a monitor verdict means):

- candidate call: an observation in which the candidate was asked to compute, whatever answered
  the caller: routed to the candidate (canary, full), or run beside legacy (shadow), or failed.
  Shadow calls skipped because the queue was full never ran and do not count.
- calculation error: a candidate call whose error kind is ``exception``, ``timeout`` or
  ``invalid_result`` (NaN/inf, negative VaR, wrong shape).
- comparison: an observation that carries a relative difference or the ``mismatch`` error kind;
  mismatch: ``mismatch`` error kind, or |difference| beyond both tolerances
  (rel_difference > rel_tolerance and abs_difference > abs_tolerance).
- latency quantiles: microseconds, linear interpolation between order statistics (numpy's
  ``linear`` method, Hyndman-Fan type 7); a summary read from minute rollups carries latency
  sketches instead (``runbook.domain.sketch``: within 1% of the exact figure).
- memory: bytes. ``memory_bytes`` is the candidate's peak allocation during the call, measured
  inside its worker process (process isolation); 0 when not sampled. Candidate memory is the median
  and the largest sample over candidate calls (whatever route answered); legacy memory the largest
  sample over calls the candidate did not run. 0 when never sampled.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.domain.sketch import LatencySketch

__all__ = ["CALCULATION_ERRORS", "HealthSummary", "quantile", "summarize"]

CALCULATION_ERRORS = frozenset({ErrorKind.EXCEPTION, ErrorKind.TIMEOUT, ErrorKind.INVALID_RESULT})

# DESIGN.md section 6: per value |new - old| <= 1e-5 * |old| (+ atol); the router reports rel
# relative to the result's magnitude, so the same 1e-5 applies.
DEFAULT_REL_TOLERANCE = 1e-5


def quantile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) of already sorted values, numpy's ``linear`` method; None if empty."""
    if not sorted_values:
        return None
    position = q * (len(sorted_values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    weight = position - below
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * weight


@dataclass(frozen=True, slots=True)
class HealthSummary:
    """What a window of observations says about one component.

    Latencies in microseconds (sorted tuples kept for the count-based latency test), memory in
    bytes, times in Unix seconds. ``errors_by_kind`` counts every error kind seen, calculation
    errors and others (skipped, legacy_exception, mismatch).
    """

    component: str
    modes: tuple[str, ...]
    observations: int
    candidate_routed: int
    legacy_routed: int
    candidate_calls: int
    calculation_errors: int
    skipped: int
    comparisons: int
    mismatches: int
    max_rel_difference: float | None
    candidate_latencies_us: tuple[float, ...]
    legacy_latencies_us: tuple[float, ...]
    peak_candidate_memory_bytes: int
    peak_legacy_memory_bytes: int
    first_at: float | None
    last_at: float | None
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    # Set when the window was read from minute rollups: the latencies as sketches (the tuples empty).
    candidate_latency_sketch: LatencySketch | None = None
    legacy_latency_sketch: LatencySketch | None = None
    candidate_memory_p50_bytes: int = 0

    @property
    def candidate_p50_us(self) -> float | None:
        return _quantile(self.candidate_latencies_us, self.candidate_latency_sketch, 0.50)

    @property
    def candidate_p99_us(self) -> float | None:
        return _quantile(self.candidate_latencies_us, self.candidate_latency_sketch, 0.99)

    @property
    def legacy_p50_us(self) -> float | None:
        return _quantile(self.legacy_latencies_us, self.legacy_latency_sketch, 0.50)

    @property
    def legacy_p99_us(self) -> float | None:
        return _quantile(self.legacy_latencies_us, self.legacy_latency_sketch, 0.99)

    @property
    def candidate_latency_count(self) -> int:
        """Candidate calls with a latency in the window."""
        sketch = self.candidate_latency_sketch
        return sketch.count if sketch is not None else len(self.candidate_latencies_us)

    @property
    def legacy_latency_count(self) -> int:
        """Calls with a legacy latency in the window."""
        sketch = self.legacy_latency_sketch
        return sketch.count if sketch is not None else len(self.legacy_latencies_us)

    def candidate_calls_over(self, limit_us: float) -> int:
        """Candidate latencies above ``limit_us`` (a sketch decides values within 1% of it either way)."""
        if self.candidate_latency_sketch is not None:
            return self.candidate_latency_sketch.count_above(limit_us)
        latencies = self.candidate_latencies_us
        return len(latencies) - bisect.bisect_right(latencies, limit_us)

    @property
    def error_rate(self) -> float | None:
        """Calculation errors per candidate call (point estimate); None without candidate calls."""
        return self.calculation_errors / self.candidate_calls if self.candidate_calls else None

    @property
    def mismatch_rate(self) -> float | None:
        """Mismatches per comparison (point estimate); None without comparisons."""
        return self.mismatches / self.comparisons if self.comparisons else None

    def counts(self) -> dict[str, int | float | None]:
        """The summary's figures as a flat JSON-able mapping (no per-call latencies)."""
        return {
            "observations": self.observations,
            "candidate_routed": self.candidate_routed,
            "legacy_routed": self.legacy_routed,
            "candidate_calls": self.candidate_calls,
            "calculation_errors": self.calculation_errors,
            "skipped": self.skipped,
            "comparisons": self.comparisons,
            "mismatches": self.mismatches,
            "max_rel_difference": _finite_or_none(self.max_rel_difference),
            "candidate_p50_us": self.candidate_p50_us,
            "candidate_p99_us": self.candidate_p99_us,
            "legacy_p50_us": self.legacy_p50_us,
            "legacy_p99_us": self.legacy_p99_us,
            "peak_candidate_memory_bytes": self.peak_candidate_memory_bytes,
            "peak_legacy_memory_bytes": self.peak_legacy_memory_bytes,
            "candidate_memory_p50_bytes": self.candidate_memory_p50_bytes,
        }


def summarize(
    observations: Iterable[Observation],
    *,
    component: str | None = None,
    rel_tolerance: float = DEFAULT_REL_TOLERANCE,
    abs_tolerance: float = 0.0,
) -> HealthSummary:
    """Summarize a window of observations of one component.

    ``component`` names it when the window is empty; observations of other components are ignored
    when it is given. Tolerances decide which comparisons are mismatches (see the module docstring).
    """
    rows = [o for o in observations if component is None or o.component == component]
    kinds = Counter(str(o.error_kind) for o in rows)
    candidate_calls = [o for o in rows if _candidate_ran(o)]
    comparisons = [o for o in rows if o.rel_difference is not None or o.error_kind == ErrorKind.MISMATCH]
    rel_values = [o.rel_difference for o in comparisons if o.rel_difference is not None]
    memory = sorted(o.memory_bytes for o in candidate_calls if o.memory_bytes > 0)
    return HealthSummary(
        component=component if component is not None else (rows[0].component if rows else ""),
        modes=tuple(sorted({o.mode for o in rows})),
        observations=len(rows),
        candidate_routed=sum(1 for o in rows if o.route == Route.CANDIDATE),
        legacy_routed=sum(1 for o in rows if o.route == Route.LEGACY),
        candidate_calls=len(candidate_calls),
        calculation_errors=sum(1 for o in candidate_calls if o.error_kind in CALCULATION_ERRORS),
        skipped=kinds.get(ErrorKind.SKIPPED.value, 0),
        comparisons=len(comparisons),
        mismatches=sum(1 for o in comparisons if _is_mismatch(o, rel_tolerance, abs_tolerance)),
        max_rel_difference=max(rel_values, default=None, key=_nan_last),
        candidate_latencies_us=_sorted_finite(o.candidate_latency_us for o in candidate_calls),
        legacy_latencies_us=_sorted_finite(o.legacy_latency_us for o in rows),
        peak_candidate_memory_bytes=memory[-1] if memory else 0,
        peak_legacy_memory_bytes=max(
            (o.memory_bytes for o in rows if not _candidate_ran(o)), default=0
        ),
        first_at=min((o.at for o in rows), default=None),
        last_at=max((o.at for o in rows), default=None),
        errors_by_kind={kind: count for kind, count in sorted(kinds.items()) if kind != ErrorKind.NONE.value},
        candidate_memory_p50_bytes=round(quantile(memory, 0.5) or 0),
    )


def _candidate_ran(observation: Observation) -> bool:
    if observation.error_kind == ErrorKind.SKIPPED:
        return False
    return (
        observation.route == Route.CANDIDATE
        or observation.candidate_latency_us is not None
        or observation.error_kind in CALCULATION_ERRORS
    )


def _is_mismatch(observation: Observation, rel_tolerance: float, abs_tolerance: float) -> bool:
    if observation.error_kind == ErrorKind.MISMATCH:
        return True
    rel, absolute = observation.rel_difference, observation.abs_difference
    if absolute is not None and absolute <= abs_tolerance:
        return False
    # NaN compares False: a difference that cannot be shown small counts as a mismatch.
    return rel is None or not rel <= rel_tolerance


def _quantile(exact: Sequence[float], sketch: LatencySketch | None, q: float) -> float | None:
    return sketch.quantile(q) if sketch is not None else quantile(exact, q)


def _sorted_finite(values: Iterable[float | None]) -> tuple[float, ...]:
    return tuple(sorted(v for v in values if v is not None and math.isfinite(v)))


def _nan_last(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
