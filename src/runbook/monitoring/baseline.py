"""Legacy baselines measured in phase 0: what the monitor holds the candidate to.

Latency is timed per call on replayed real requests, like the router times calls; memory is the
peak traced allocation of one call; hedge effectiveness is legacy's on the monitor's own probe.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any, Final

import numpy as np

from runbook.control.baselines import Baseline

__all__ = ["measure_legacy_baseline"]

# Calls whose allocation peak is traced: tracemalloc slows calls, so it never times them.
MEMORY_SAMPLES = 20
QUANTILE_METHOD: Final = "linear"


def measure_legacy_baseline(component: str, pair: Any, *, calls: int = 300, seed: int = 0) -> Baseline:
    """Time ``calls`` legacy calls (p50, p99 in microseconds), trace memory, probe hedge effectiveness."""
    from runbook.scenarios.replay import replay_requests

    requests = [request for _key, request in replay_requests(component, count=calls, seed=seed)]
    for request in requests[:5]:  # warm caches and lazy imports before timing
        pair.call_legacy(request)
    latencies = np.array([_timed_us(pair.call_legacy, request) for request in requests], dtype=np.float64)
    return Baseline(
        latency_p50_us=float(np.quantile(latencies, 0.50, method=QUANTILE_METHOD)),
        latency_p99_us=float(np.quantile(latencies, 0.99, method=QUANTILE_METHOD)),
        peak_memory_bytes=max(_peak_bytes(pair.call_legacy, r) for r in requests[:MEMORY_SAMPLES]),
        hedge_effectiveness=_legacy_effectiveness(pair) if component == "hedge_calculator" else None,
        source=f"readiness: {len(requests)} replayed legacy calls (quantile method {QUANTILE_METHOD})",
    )


def _timed_us(call: Any, request: Any) -> float:
    start = time.perf_counter_ns()
    call(request)
    return (time.perf_counter_ns() - start) / 1_000.0


def _peak_bytes(call: Any, request: Any) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call(request)
        return max(tracemalloc.get_traced_memory()[1] - before, 0)
    finally:
        tracemalloc.stop()


def _legacy_effectiveness(pair: Any) -> float | None:
    from runbook.monitoring import effectiveness_probe

    legacy = [s.legacy for s in effectiveness_probe(pair) if s.legacy is not None]
    return float(np.mean(legacy)) if legacy else None
