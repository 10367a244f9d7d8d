"""Old vs new latency and peak memory on the same scenarios, robust to a busy shared machine.

Latency: ``rounds`` interleaved runs (old then new, then new then old, ...) of one batch; the
decision uses the median of the per-round ratios new / old, so load that hits both engines in a
round cancels. Memory: peak bytes allocated during one batch call (tracemalloc, which numpy
reports to), deterministic for deterministic code.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from runbook.validation.report import Check

MAX_LATENCY_RATIO = 1.20  # ADR: more than 20% slower fails
MAX_MEMORY_RATIO = 1.50  # ADR: more than 50% more memory fails


@dataclass(frozen=True, slots=True)
class PerformanceComparison:
    """Batch latency percentiles (milliseconds) and peak memory (bytes) of both engines."""

    scenarios: int
    rounds: int
    legacy_p50_ms: float
    legacy_p99_ms: float
    candidate_p50_ms: float
    candidate_p99_ms: float
    latency_ratio: float
    legacy_peak_bytes: int
    candidate_peak_bytes: int
    memory_ratio: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def head(batch: Any, rows: int) -> Any:
    """The first ``rows`` scenarios of a batch (every per-scenario array sliced)."""
    size = len(batch)
    changes = {
        f.name: getattr(batch, f.name)[:rows]
        for f in dataclasses.fields(batch)
        if isinstance(getattr(batch, f.name), np.ndarray) and getattr(batch, f.name).shape[:1] == (size,)
    }
    return dataclasses.replace(batch, **changes)


def _peak_bytes(call: Callable[[], object]) -> int:
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call()
        return max(tracemalloc.get_traced_memory()[1] - before, 1)
    finally:
        if not already:
            tracemalloc.stop()


MIN_MEASURE_S = 0.025  # each timed measurement lasts at least this long, so timer noise stays small


def _repeats(call: Callable[[], object]) -> int:
    started = time.perf_counter()
    call()
    elapsed = max(time.perf_counter() - started, 1e-6)
    return max(1, min(1_000, int(np.ceil(MIN_MEASURE_S / elapsed))))


def compare_performance(
    legacy: Callable[[], object], candidate: Callable[[], object], *, scenarios: int, rounds: int = 7
) -> PerformanceComparison:
    """Time and measure two zero-argument calls that each process the same ``scenarios``."""
    legacy(), candidate()  # warm caches and lazy imports
    repeats = _repeats(legacy)
    times: dict[str, list[float]] = {"legacy": [], "candidate": []}
    ratios = []
    for round_number in range(rounds):
        order = (("legacy", legacy), ("candidate", candidate))
        if round_number % 2:
            order = order[::-1]
        for name, call in order:
            started = time.perf_counter()
            for _ in range(repeats):
                call()
            times[name].append((time.perf_counter() - started) / repeats)
        ratios.append(times["candidate"][-1] / times["legacy"][-1])
    legacy_peak, candidate_peak = _peak_bytes(legacy), _peak_bytes(candidate)
    old, new = np.array(times["legacy"]) * 1e3, np.array(times["candidate"]) * 1e3
    return PerformanceComparison(
        scenarios=scenarios,
        rounds=rounds,
        legacy_p50_ms=float(np.median(old)),
        legacy_p99_ms=float(np.quantile(old, 0.99, method="linear")),
        candidate_p50_ms=float(np.median(new)),
        candidate_p99_ms=float(np.quantile(new, 0.99, method="linear")),
        latency_ratio=float(np.median(ratios)),
        legacy_peak_bytes=int(legacy_peak),
        candidate_peak_bytes=int(candidate_peak),
        memory_ratio=float(candidate_peak / legacy_peak),
    )


def performance_checks(perf: PerformanceComparison) -> list[Check]:
    """The ADR's latency (20%) and memory (50%) limits as two gating checks."""
    latency = (
        f"candidate/legacy batch latency {perf.latency_ratio:.2f}x "
        f"(median of {perf.rounds} interleaved rounds; "
        f"p50 {perf.legacy_p50_ms:.2f} -> {perf.candidate_p50_ms:.2f} ms, "
        f"p99 {perf.legacy_p99_ms:.2f} -> {perf.candidate_p99_ms:.2f} ms); limit {MAX_LATENCY_RATIO:.2f}x"
    )
    memory = (
        f"candidate/legacy peak memory {perf.memory_ratio:.2f}x "
        f"({perf.legacy_peak_bytes / 2**20:.1f} -> {perf.candidate_peak_bytes / 2**20:.1f} MiB); "
        f"limit {MAX_MEMORY_RATIO:.2f}x"
    )
    return [
        Check("latency", perf.latency_ratio <= MAX_LATENCY_RATIO, latency, perf.to_dict()),
        Check("memory", perf.memory_ratio <= MAX_MEMORY_RATIO, memory, perf.to_dict()),
    ]
