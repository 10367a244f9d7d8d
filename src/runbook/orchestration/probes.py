"""Probes the monitor runs inside a flow process, made robust to that process's other threads.

``tracemalloc`` traces every thread: while a probe runs, Prefect's log and event threads, a
replay's recorder or an approver may allocate too, and their bytes land in whichever engine's
round is being traced. Foreign allocations only ever add bytes, so each engine's smallest peak
over a few repeated probes is the estimate closest to its own; a real regression shows in every
repeat and survives the minimum.
"""

from __future__ import annotations

from typing import Any

from runbook.monitoring import MemorySample, memory_probe

__all__ = ["PROBE_REPEATS", "robust_memory_probe"]

PROBE_REPEATS = 3


def robust_memory_probe(pair: Any, *, component: str, repeats: int = PROBE_REPEATS) -> MemorySample:
    """``memory_probe`` repeated ``repeats`` times; each engine's smallest peak."""
    samples = [memory_probe(pair, component=component) for _ in range(max(1, repeats))]
    return MemorySample(
        candidate_peak_bytes=min(s.candidate_peak_bytes for s in samples),
        legacy_peak_bytes=min(s.legacy_peak_bytes for s in samples),
        calls=sum(s.calls for s in samples),
    )
