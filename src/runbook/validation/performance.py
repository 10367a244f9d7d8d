"""Old vs new latency and peak memory on the same scenarios, decided by the sequential gate.

Latency: each measurement times ``repeats`` back-to-back calls (so one lasts >= MIN_MEASURE_S and
timer resolution does not matter) with an injectable clock, by default the process's CPU time: a
neighbour's load stretches wall time (the engine waits for a core) but hardly the CPU seconds the
engine needs, and paired, interleaved rounds cancel what remains (see ``performance_gate``).
Memory: peak bytes allocated during one call (tracemalloc, which numpy
reports to) plus a 64 KiB floor, paired the same way.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from runbook.validation.performance_gate import GatePolicy, GateResult, Outcome, run_gate
from runbook.validation.report import Check

MAX_LATENCY_RATIO = 1.20  # ADR: more than 20% slower fails
MAX_MEMORY_RATIO = 1.50  # ADR: more than 50% more memory fails
MEMORY_FLOOR_BYTES = 64 * 1024  # added to both peaks: a few bytes either side never decide the ratio
MIN_MEASURE_S = 0.025  # each timed measurement lasts at least this long, so timer noise stays small

Clock = Callable[[], float]
LATENCY_POLICY = GatePolicy(MAX_LATENCY_RATIO)
# Peak memory of numpy code barely varies between rounds: fewer rounds decide it.
MEMORY_POLICY = GatePolicy(MAX_MEMORY_RATIO, min_rounds=4, step=4, max_rounds=20)


@dataclass(frozen=True, slots=True)
class PerformanceGate:
    """The latency and memory policies and the clock latency is measured with."""

    latency: GatePolicy = LATENCY_POLICY
    memory: GatePolicy = MEMORY_POLICY
    clock: Clock = time.process_time
    min_measure_s: float = MIN_MEASURE_S


@dataclass(frozen=True, slots=True)
class PerformanceComparison:
    """Both gates' results on ``scenarios`` scenarios, with latency percentiles in milliseconds."""

    scenarios: int
    latency: GateResult
    memory: GateResult

    def to_dict(self) -> dict[str, Any]:
        old, new = np.array(self.latency.legacy) * 1e3, np.array(self.latency.candidate) * 1e3
        return {
            "scenarios": self.scenarios,
            "legacy_p50_ms": float(np.median(old)),
            "legacy_p99_ms": float(np.quantile(old, 0.99, method="linear")),
            "candidate_p50_ms": float(np.median(new)),
            "candidate_p99_ms": float(np.quantile(new, 0.99, method="linear")),
            "latency_ratio": self.latency.ratio,
            "legacy_peak_bytes": int(np.median(self.memory.legacy)),
            "candidate_peak_bytes": int(np.median(self.memory.candidate)),
            "memory_ratio": self.memory.ratio,
            "latency_gate": self.latency.to_dict(),
            "memory_gate": self.memory.to_dict(),
        }


def head(batch: Any, rows: int) -> Any:
    """The first ``rows`` scenarios of a batch (every per-scenario array sliced)."""
    size = len(batch)
    changes = {
        f.name: getattr(batch, f.name)[:rows]
        for f in dataclasses.fields(batch)
        if isinstance(getattr(batch, f.name), np.ndarray) and getattr(batch, f.name).shape[:1] == (size,)
    }
    return dataclasses.replace(batch, **changes)


def peak_bytes(call: Callable[[], object]) -> float:
    """Peak bytes allocated while ``call`` runs (at least 1)."""
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call()
        return float(max(tracemalloc.get_traced_memory()[1] - before, 1))
    finally:
        if not already:
            tracemalloc.stop()


def timer(clock: Clock, repeats: int) -> Callable[[Callable[[], object]], float]:
    """Seconds per call of ``repeats`` back-to-back calls, read from ``clock``."""

    def sample(call: Callable[[], object]) -> float:
        started = clock()
        for _ in range(repeats):
            call()
        return (clock() - started) / repeats

    return sample


def repeats_for(call: Callable[[], object], clock: Clock, min_seconds: float) -> int:
    """How many calls make one measurement last ``min_seconds`` (1 .. 1,000)."""
    elapsed = max(timer(clock, 1)(call), 1e-6)
    return max(1, min(1_000, int(np.ceil(min_seconds / elapsed))))


def compare_performance(
    legacy: Callable[[], object],
    candidate: Callable[[], object],
    *,
    scenarios: int,
    gate: PerformanceGate | None = None,
) -> PerformanceComparison:
    """Gate latency and memory of two zero-argument calls that each process the same ``scenarios``."""
    gate = gate or PerformanceGate()
    legacy(), candidate()  # warm caches and lazy imports
    repeats = repeats_for(legacy, gate.clock, gate.min_measure_s)
    latency = run_gate(legacy, candidate, timer(gate.clock, repeats), gate.latency)
    memory = run_gate(legacy, candidate, lambda call: peak_bytes(call) + MEMORY_FLOOR_BYTES, gate.memory)
    return PerformanceComparison(scenarios, latency, memory)


def gate_check(name: str, result: GateResult, detail: str, numbers: dict[str, Any]) -> Check:
    """A gating check: passed only on PASS; INCONCLUSIVE is flagged, never a silent pass."""
    return Check(
        name,
        result.outcome is Outcome.PASS,
        detail,
        numbers,
        inconclusive=result.outcome is Outcome.INCONCLUSIVE,
    )


def performance_checks(perf: PerformanceComparison) -> list[Check]:
    """The ADR's latency (20%) and memory (50%) limits as two gating checks."""
    numbers = perf.to_dict()
    latency = perf.latency.describe("batch latency", lambda s: f"{s * 1e3:.2f} ms")
    memory = perf.memory.describe("peak memory", lambda b: f"{b / 2**20:.1f} MiB")
    return [
        gate_check("latency", perf.latency, latency, numbers),
        gate_check("memory", perf.memory, memory, numbers),
    ]
