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
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call()
        return max(tracemalloc.get_traced_memory()[1] - before, 1)
    finally:
        tracemalloc.stop()


def compare_performance(
    legacy: Callable[[], object], candidate: Callable[[], object], *, scenarios: int, rounds: int = 7
) -> PerformanceComparison:
    """Time and measure two zero-argument calls that each process the same ``scenarios``."""
    legacy(), candidate()  # warm caches and lazy imports
    times: dict[str, list[float]] = {"legacy": [], "candidate": []}
    ratios = []
    for round_number in range(rounds):
        order = (("legacy", legacy), ("candidate", candidate))
        if round_number % 2:
            order = order[::-1]
        for name, call in order:
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
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
