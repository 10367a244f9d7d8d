"""Probes the monitor runs inside a flow process.

A flow process has other threads (Prefect's log and event threads, a replay's recorder, an
approver) that allocate while a probe runs. ``memory_probe`` is robust to them itself: it
measures each call's own peak and summarises each engine by the median over interleaved calls
(see ``runbook.monitoring._memory``), so one probe is enough.
"""

from __future__ import annotations

from typing import Any

from runbook.monitoring import MemorySample, memory_probe

__all__ = ["robust_memory_probe"]


def robust_memory_probe(pair: Any, *, component: str) -> MemorySample:
    """Both engines' median per-call peak allocation on replayed requests of ``component``."""
    return memory_probe(pair, component=component)
