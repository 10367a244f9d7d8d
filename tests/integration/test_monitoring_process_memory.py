"""Memory online: process-isolated calls carry the candidate's memory, and the monitor acts on it alone.

A router with ``candidate_isolation="process"`` shadows a candidate that needs 1.7x legacy's
working memory per call; its observations go to a real SQLite store, and ``monitor_and_act``
rolls the component back on the memory trigger (ADR: +50%) from those observations, never
calling the memory probe it is given. A candidate with legacy's footprint passes the same check.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import process_engines as engines
import pytest

from runbook.control import AuditLog, Baseline, BaselineStore, ProductionSafetyManager, Store
from runbook.domain.modes import Mode
from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring import Verdict, monitor_and_act
from runbook.runtime import ObservationRecorder, Router, connect

COMPONENT = "correlation_analyzer"
CALLS = 40


def legacy_peak_bytes(engine: object) -> int:
    """Legacy's per-call peak allocation, traced here the way a readiness baseline is (bytes)."""
    engine(1.0)  # first-call caches are not the engine's footprint
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        engine(1.0)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def probe_must_not_run() -> None:
    raise AssertionError("the memory probe ran although observations carry memory")


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    opened, _sink = connect(sqlite_url)
    yield opened
    opened.dispose()


def shadow_calls(store: Store, candidate: object) -> None:
    """Put the component in shadow and route CALLS calls through a process-isolated router."""
    legacy = engines.allocating(1.0)
    BaselineStore(store).record(
        COMPONENT,
        Baseline(latency_p50_us=1e6, latency_p99_us=2e6, peak_memory_bytes=legacy_peak_bytes(legacy)),
    )
    ProductionSafetyManager(store, actor="release-engineer").enable_shadow_mode(COMPONENT, reason="test")
    _store, sink = connect(store.url, upgrade=False)
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    router = Router(COMPONENT, legacy=legacy, candidate=candidate, state_source=store, recorder=recorder,
                    shadow_timeout_s=5.0, candidate_isolation="process", candidate_processes=1)  # fmt: skip
    try:
        assert router.wait_for_candidate(120.0)
        assert router.serving_mode is Mode.SHADOW
        for i in range(CALLS):
            assert router.call(float(i), routing_key=f"book-{i}") == float(2 * i)
        assert router.flush(60.0)
    finally:
        router.close()
        recorder.close()
        _store.dispose()


def test_candidate_needing_1_7x_memory_is_rolled_back_from_observations(store: Store) -> None:
    """Every shadow observation carries the candidate's peak; the monitor rolls back on memory, no probe."""
    shadow_calls(store, engines.allocating(1.7))

    decision = monitor_and_act(store, COMPONENT, thresholds=RollbackThresholds(), window_s=600,
                               memory=probe_must_not_run)  # fmt: skip

    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("memory",)
    assert 1.5 < decision.evidence["memory.ratio"] < 2.0
    assert decision.evidence["candidate_memory_p50_bytes"] > 0
    assert store.state(COMPONENT).mode is Mode.ROLLED_BACK
    rollback = next(e for e in AuditLog(store).entries(component=COMPONENT) if e.action == "rollback")
    assert "memory" in rollback.reason


def test_candidate_with_legacys_footprint_passes_the_memory_check(store: Store) -> None:
    """The same path with a 1.0x candidate: the memory check passes and nothing is rolled back."""
    shadow_calls(store, "process_engines:Same")

    decision = monitor_and_act(store, COMPONENT, thresholds=RollbackThresholds(), window_s=600,
                               memory=probe_must_not_run)  # fmt: skip

    assert decision.evidence["check.memory"] == "pass"
    assert decision.verdict is not Verdict.ROLLBACK
    assert store.state(COMPONENT).mode is Mode.SHADOW
