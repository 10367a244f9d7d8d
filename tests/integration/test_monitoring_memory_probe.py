"""The memory probe on the shipped engines: memory_hungry canaries roll back, shipped candidates do not."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.domain.thresholds import RollbackThresholds
from runbook.engines.registry import list_faults, load_pair
from runbook.monitoring import MemorySample, Verdict, memory_probe, monitor_and_act

ADR = RollbackThresholds()
HUNGRY = [component for component, fault in list_faults() if fault == "memory_hungry"]
SHIPPED = [component.value for component in Component]
BURST_BYTES = 2**20  # another thread's burst: far more than any engine's per-call peak (tens of KiB)
BURST_CALLS = frozenset({4, 11, 23, 37})  # engine calls (1 = the untraced warm-up) a burst lands in


class Burst:
    """Another thread of the process that allocates (and frees) BURST_BYTES whenever it is triggered."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.done = threading.Event()
        self.count = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="burst", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.go.wait()
            self.go.clear()
            if self.stopping:
                return
            block = bytearray(BURST_BYTES)
            del block
            self.count += 1
            self.done.set()

    def during(self, call: Callable[[Any], Any], *, calls: Collection[int]) -> Callable[[Any], Any]:
        """``call``, wrapped so that its n-th call (n in ``calls``) waits for a burst to happen."""
        numbers = itertools.count(1)

        def wrapped(request: Any) -> Any:
            if next(numbers) in calls:
                self.done.clear()
                self.go.set()
                self.done.wait(30)  # a safeguard only: the burst takes microseconds
            return call(request)

        return wrapped

    def stop(self) -> None:
        self.stopping = True
        self.go.set()
        self.thread.join()


@pytest.fixture
def burst() -> Iterator[Burst]:
    bursting = Burst()
    yield bursting
    bursting.stop()


def canary_store(url: str, component: str) -> Store:
    store = Store.from_url(url)
    safety = ProductionSafetyManager(store, actor="test")
    safety.enable_shadow_mode(component, reason="test")
    safety.enable_canary_deployment(component, 10, reason="test")
    return store


def test_memory_hungry_faults_exist() -> None:
    """The shipped fault list holds memory_hungry candidates for the probe to catch."""
    assert set(HUNGRY) >= {"var_engine", "hedge_calculator"}


@pytest.mark.parametrize("component", HUNGRY)
def test_probe_sees_a_memory_hungry_candidate_over_the_limit(component: str) -> None:
    """A candidate holding extra copies of its input peaks above 1.5x legacy on the routers' call path."""
    sample = memory_probe(load_pair(component, fault="memory_hungry"), component=component)
    assert sample.calls == 50
    assert sample.ratio is not None
    assert sample.ratio > ADR.max_memory_ratio


@pytest.mark.parametrize("component", HUNGRY)
def test_memory_hungry_canary_is_rolled_back(sqlite_url: str, component: str) -> None:
    """monitor_and_act with the probe rolls a memory_hungry canary back, evidence in the audit row."""
    store = canary_store(sqlite_url, component)
    try:
        pair = load_pair(component, fault="memory_hungry")
        decision = monitor_and_act(
            store,
            component,
            thresholds=ADR,
            window_s=60,
            memory=lambda: memory_probe(pair, component=component),
        )
        assert decision.verdict is Verdict.ROLLBACK
        assert decision.failed_checks == ("memory",)
        assert store.state(component).mode is Mode.ROLLED_BACK
        rollback = [e for e in AuditLog(store).entries(component=component) if e.action == "rollback"]
        evidence = rollback[0].evidence
        assert evidence["memory.ratio"] > ADR.max_memory_ratio
        assert evidence["memory.ratio"] == pytest.approx(
            evidence["memory.candidate_peak_bytes"] / evidence["memory.legacy_peak_bytes"]
        )
        assert evidence["memory.limit_ratio"] == ADR.max_memory_ratio
        assert rollback[0].reason.startswith(
            "automatic rollback by the monitor (memory): memory: candidate peak"
        )
    finally:
        store.dispose()


@pytest.mark.parametrize("component", SHIPPED)
def test_shipped_candidate_is_not_rolled_back_for_memory(sqlite_url: str, component: str) -> None:
    """Each shipped candidate stays within 1.5x legacy's peak: memory passes and the canary stays live."""
    store = canary_store(sqlite_url, component)
    try:
        sample = memory_probe(load_pair(component), component=component)
        assert sample.ratio is not None
        assert sample.ratio <= ADR.max_memory_ratio
        decision = monitor_and_act(store, component, thresholds=ADR, window_s=60, memory=sample)
        assert decision.evidence["check.memory"] == "pass"
        assert decision.verdict is not Verdict.ROLLBACK
        assert store.state(component).mode is Mode.CANARY
    finally:
        store.dispose()


def test_a_failing_memory_probe_holds(sqlite_url: str) -> None:
    """A probe that raises does not stop the monitor: memory is undecided and the verdict HOLD."""

    def broken() -> MemorySample:
        raise RuntimeError("replay data unavailable")

    store = canary_store(sqlite_url, "var_engine")
    try:
        decision = monitor_and_act(store, "var_engine", thresholds=ADR, window_s=60, memory=broken)
        assert decision.verdict is Verdict.HOLD
        assert decision.evidence["check.memory"] == "undecided"
        assert store.state("var_engine").mode is Mode.CANARY
    finally:
        store.dispose()


@pytest.mark.parametrize("component", SHIPPED)
def test_another_threads_bursts_do_not_make_a_shipped_candidate_hungry(burst: Burst, component: str) -> None:
    """A thread allocating 1 MiB during 4 of the candidate's 50 probed calls does not move its ratio:
    the bursts are traced (the largest call shows them) but the median per-call peak ignores them."""
    pair = load_pair(component)
    clean = memory_probe(pair, component=component)
    noisy_pair = SimpleNamespace(
        call_legacy=pair.call_legacy, call_candidate=burst.during(pair.call_candidate, calls=BURST_CALLS)
    )
    noisy = memory_probe(noisy_pair, component=component)
    assert burst.count == len(BURST_CALLS)
    assert noisy.candidate_max_bytes >= BURST_BYTES  # the bursts landed inside traced candidate calls
    assert noisy.candidate_max_bytes / noisy.legacy_peak_bytes > ADR.max_memory_ratio
    assert noisy.ratio is not None
    assert noisy.ratio <= ADR.max_memory_ratio
    assert noisy.ratio == pytest.approx(clean.ratio, rel=0.05)


@pytest.mark.parametrize("component", HUNGRY)
def test_legacy_side_bursts_do_not_hide_a_memory_hungry_candidate(burst: Burst, component: str) -> None:
    """Bursts traced inside 4 of legacy's calls leave legacy's median alone: memory_hungry still fails."""
    pair = load_pair(component, fault="memory_hungry")
    noisy_pair = SimpleNamespace(
        call_legacy=burst.during(pair.call_legacy, calls=BURST_CALLS), call_candidate=pair.call_candidate
    )
    sample = memory_probe(noisy_pair, component=component)
    assert burst.count == len(BURST_CALLS)
    assert sample.legacy_max_bytes >= BURST_BYTES
    assert sample.ratio is not None
    assert sample.ratio > ADR.max_memory_ratio
