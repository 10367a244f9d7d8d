"""The memory check on probed peaks (ADR memory_increase 0.50) and the probe's tracemalloc mechanics."""

from __future__ import annotations

import math
import random
import tracemalloc
from typing import Any

import pytest

from runbook.control.baselines import Baseline
from runbook.domain.observation import Observation, Route
from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring import (
    AutoRollbackMonitor,
    CriticalComponentMonitor,
    MemorySample,
    Verdict,
    memory_probe,
)

ADR = RollbackThresholds()
BASELINE = Baseline(latency_p50_us=100.0, latency_p99_us=400.0, peak_memory_bytes=0)
LEGACY_PEAK = 4 * 2**20
HEALTHY = 20_000  # clean canary calls: enough for every rate and latency check to pass


def healthy_canary(component: str = "var_engine") -> list[Observation]:
    """Clean canary calls as routers record them online: latencies around the baseline, no memory."""
    rng = random.Random(0)
    return [
        Observation(
            component=component,
            mode="canary",
            route=Route.CANDIDATE,
            routing_key=f"book-{i % 97}",
            at=1_000.0 + i * 1e-3,
            legacy_latency_us=None,
            candidate_latency_us=100.0 * math.exp(0.3 * rng.gauss(0.0, 1.0)),
        )
        for i in range(HEALTHY)
    ]


WINDOW = healthy_canary()


def probed(ratio: float, calls: int = 50) -> MemorySample:
    return MemorySample(
        candidate_peak_bytes=round(ratio * LEGACY_PEAK), legacy_peak_bytes=LEGACY_PEAK, calls=calls
    )


def test_probed_peak_sixty_percent_over_legacy_rolls_back() -> None:
    """A candidate peak 1.6x legacy's on the same requests is over the 1.5x limit: ROLLBACK on memory."""
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=probed(1.6))
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("memory",)


def test_rollback_evidence_names_both_peaks_ratio_and_limit() -> None:
    """The evidence carries both peaks in bytes, their ratio, the limit and the probe's call count."""
    sample = probed(1.6)
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=sample)
    evidence = decision.evidence
    assert evidence["memory.candidate_peak_bytes"] == sample.candidate_peak_bytes
    assert evidence["memory.legacy_peak_bytes"] == LEGACY_PEAK
    assert evidence["memory.ratio"] == pytest.approx(sample.candidate_peak_bytes / LEGACY_PEAK)
    assert evidence["memory.limit_ratio"] == ADR.max_memory_ratio
    assert evidence["memory.calls"] == 50
    assert evidence["check.memory"] == "fail"
    assert decision.reasons[0].startswith("memory: candidate peak")
    assert f"{LEGACY_PEAK} B" in decision.reasons[0]


def test_probed_peak_twenty_percent_over_legacy_continues() -> None:
    """A candidate peak 1.2x legacy's is within the 1.5x limit: the memory check passes, CONTINUE."""
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=probed(1.2))
    assert decision.verdict is Verdict.CONTINUE
    assert decision.evidence["check.memory"] == "pass"
    assert decision.evidence["memory.ratio"] == pytest.approx(1.2)


def test_peak_exactly_at_the_limit_passes() -> None:
    """Only a peak strictly above max_memory_ratio x legacy fails: exactly 1.5x passes."""
    sample = MemorySample(candidate_peak_bytes=3 * 2**20, legacy_peak_bytes=2 * 2**20, calls=50)
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=sample)
    assert decision.evidence["check.memory"] == "pass"


def test_limit_comes_from_the_thresholds() -> None:
    """With max_memory_ratio 2.0 the same 1.6x peak passes and 2.1x fails."""
    loose = AutoRollbackMonitor(RollbackThresholds(max_memory_ratio=2.0))
    assert loose.evaluate(WINDOW, baseline=BASELINE, memory=probed(1.6)).verdict is Verdict.CONTINUE
    assert loose.evaluate(WINDOW, baseline=BASELINE, memory=probed(2.1)).failed_checks == ("memory",)


def test_no_sample_keeps_memory_not_applicable() -> None:
    """Without a probe sample the window's zero memory figures leave the check not applicable."""
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=None)
    assert decision.verdict is Verdict.CONTINUE
    assert decision.evidence["check.memory"] == "not_applicable"
    assert "memory.ratio" not in decision.evidence


def test_critical_monitor_rolls_back_on_probed_memory() -> None:
    """CriticalComponentMonitor applies the same memory limit to a critical component's probe."""
    decision = CriticalComponentMonitor(ADR).evaluate(
        WINDOW, baseline=BASELINE, component="var_engine", memory=probed(1.6)
    )
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("memory",)


def test_probe_that_measured_nothing_holds() -> None:
    """A sample without calls or without a legacy peak cannot be judged: memory undecided, HOLD."""
    empty = MemorySample(candidate_peak_bytes=0, legacy_peak_bytes=0, calls=0)
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=empty)
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["check.memory"] == "undecided"


def test_memory_fails_even_on_an_empty_window() -> None:
    """A probe is its own evidence: 1.6x rolls back before any canary call was observed."""
    decision = AutoRollbackMonitor(ADR).evaluate(
        [], baseline=None, component="var_engine", memory=probed(1.6)
    )
    assert decision.verdict is Verdict.ROLLBACK


# ---- the probe on engines whose allocations are known ------------------------------------------


class Allocating:
    """A fake engine pair: each call holds ``legacy_bytes`` / ``candidate_bytes`` for its duration."""

    def __init__(self, legacy_bytes: int, candidate_bytes: int, *, candidate_raises: bool = False) -> None:
        self.legacy_bytes = legacy_bytes
        self.candidate_bytes = candidate_bytes
        self.candidate_raises = candidate_raises
        self.calls = {"legacy": 0, "candidate": 0}

    def call_legacy(self, request: Any) -> int:
        self.calls["legacy"] += 1
        return len(bytearray(self.legacy_bytes))

    def call_candidate(self, request: Any) -> int:
        self.calls["candidate"] += 1
        held = bytearray(self.candidate_bytes)
        if self.candidate_raises:
            raise RuntimeError(f"failed holding {len(held)} bytes")
        return len(held)


def test_probe_measures_each_engines_peak_allocation() -> None:
    """Engines holding 1 MiB and 3 MiB per call are measured at 1 and 3 MiB (plus small overheads)."""
    pair = Allocating(2**20, 3 * 2**20)
    sample = memory_probe(pair, count=12, component="var_engine")
    assert sample.calls == 12
    assert 2**20 <= sample.legacy_peak_bytes < 2**20 + 64 * 1024
    assert 3 * 2**20 <= sample.candidate_peak_bytes < 3 * 2**20 + 64 * 1024
    assert sample.ratio == pytest.approx(3.0, rel=0.05)


class OccasionallyBig(Allocating):
    """A candidate holding 1 MiB per call, and 8 MiB on the calls numbered in ``big_calls``."""

    def __init__(self, big_calls: set[int]) -> None:
        super().__init__(2**20, 2**20)
        self.big_calls = big_calls

    def call_candidate(self, request: Any) -> int:
        self.calls["candidate"] += 1
        size = 8 * 2**20 if self.calls["candidate"] in self.big_calls else self.candidate_bytes
        return len(bytearray(size))


def test_probe_summarises_each_engine_by_its_median_call() -> None:
    """8 MiB on 3 of 12 calls leaves the candidate's median at 1 MiB; its largest call shows 8 MiB."""
    sample = memory_probe(OccasionallyBig({3, 7, 10}), count=12, component="var_engine")
    assert 2**20 <= sample.candidate_peak_bytes < 2**20 + 64 * 1024
    assert sample.candidate_max_bytes >= 8 * 2**20
    assert sample.ratio == pytest.approx(1.0, rel=0.05)


def test_probe_median_follows_an_allocation_on_most_calls() -> None:
    """8 MiB on 7 of 12 calls is the candidate's typical call: the median is 8 MiB and it fails."""
    sample = memory_probe(OccasionallyBig({2, 3, 5, 7, 9, 11, 13}), count=12, component="var_engine")
    assert sample.candidate_peak_bytes >= 8 * 2**20
    decision = AutoRollbackMonitor(ADR).evaluate(WINDOW, baseline=BASELINE, memory=sample)
    assert decision.failed_checks == ("memory",)
    assert decision.evidence["memory.candidate_max_call_bytes"] == sample.candidate_max_bytes


def test_probe_runs_both_engines_on_every_request() -> None:
    """Both engines answer the same requests: one warm-up call each, then ``count`` calls each."""
    pair = Allocating(1024, 1024)
    memory_probe(pair, count=13, component="hedge_calculator")
    assert pair.calls == {"legacy": 14, "candidate": 14}


def test_probe_measures_a_candidate_that_raises() -> None:
    """A candidate that fails after allocating is still charged for what it allocated."""
    sample = memory_probe(
        Allocating(2**20, 2 * 2**20, candidate_raises=True), count=5, component="var_engine"
    )
    assert sample.candidate_peak_bytes >= 2 * 2**20


def test_probe_stops_tracemalloc_only_when_it_started_it() -> None:
    """tracemalloc is off after a probe that started it, and still on after one that found it on."""
    assert not tracemalloc.is_tracing()
    memory_probe(Allocating(1024, 1024), count=2, component="var_engine")
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        memory_probe(Allocating(1024, 1024), count=2, component="var_engine")
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_probe_refuses_a_count_below_one() -> None:
    """A probe of no request would measure nothing: BadParameter naming the count."""
    with pytest.raises(BadParameter, match="count 0"):
        memory_probe(Allocating(1, 1), count=0, component="var_engine")
