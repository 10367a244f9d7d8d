"""ADR-0011's automatic rollback thresholds, as one value object with the ADR's defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass

from runbook.errors import BadParameter


@dataclass(frozen=True, slots=True)
class RollbackThresholds:
    """Limits beyond which a canary is rolled back.

    max_error_rate: calculation errors / calls (ADR: 0.001, i.e. 0.1%).
    max_latency_ratio: candidate p50 latency / legacy baseline (ADR: 1.20, i.e. 20% slower).
    min_latency_excess_us: microseconds over the legacy p50 a call must also exceed to count as
        slower: a latency regression is both relatively and materially slower. The ADR's own
        latency budget is "<10 ms additional latency per component"; excesses under this floor
        are within the measurement noise of cold calls on a shared machine (a candidate served
        rarely, e.g. at a 5% canary share, finds its caches cold). Default 50 us; raise it where
        cold calls cost more (``runbook demo`` uses 200 us).
    max_memory_ratio: candidate peak memory / legacy baseline (ADR: 1.50, i.e. 50% more).
    min_hedge_effectiveness_ratio: HE_new / HE_baseline (ADR: 0.95).
    max_mismatch_rate: comparisons outside tolerance / comparisons (shadow, and verified canary/full).
    min_observations: calls needed before a rate can pass (below it the verdict is HOLD).
    confidence: one-sided confidence of the count-based tests (0.99 by default).
    """

    max_error_rate: float = 0.001
    max_latency_ratio: float = 1.20
    max_memory_ratio: float = 1.50
    min_hedge_effectiveness_ratio: float = 0.95
    max_mismatch_rate: float = 0.001
    min_observations: int = 200
    confidence: float = 0.99
    min_latency_excess_us: float = 50.0

    def __post_init__(self) -> None:
        _in_range("max_error_rate", self.max_error_rate, 0.0, 1.0)
        _in_range("max_mismatch_rate", self.max_mismatch_rate, 0.0, 1.0)
        _in_range("max_latency_ratio", self.max_latency_ratio, 1.0, 100.0)
        if not (math.isfinite(self.min_latency_excess_us) and self.min_latency_excess_us >= 0.0):
            raise BadParameter(
                f"min_latency_excess_us {self.min_latency_excess_us!r} must be a finite number of "
                "microseconds >= 0"
            )
        _in_range("max_memory_ratio", self.max_memory_ratio, 1.0, 100.0)
        _in_range("min_hedge_effectiveness_ratio", self.min_hedge_effectiveness_ratio, 0.0, 1.0)
        _in_range("confidence", self.confidence, 0.5, 1.0)
        if self.min_observations < 1:
            raise BadParameter(f"min_observations {self.min_observations!r} must be >= 1")


def _in_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise BadParameter(f"{name} {value!r} is outside the allowed range [{low:g}, {high:g}]")
