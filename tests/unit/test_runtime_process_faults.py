"""Process isolation's fault matrix: whatever the candidate does to its worker, callers get legacy's answer.

Every (fault x mode x call path) cell runs through the real Router with the candidate in spawned
worker processes: 0 exceptions reach the caller, 0 invalid values are served, each failure is
counted and recorded, and the test process's own memory stays flat. One router per candidate
serves every cell (the fault is picked per call), so the workers start once per module; the
router's clock is a fake one (the circuit breaker's cool-down), moved on between cells.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import process_engines as engines
import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router, routing_point

COMPONENT = "var_engine"
BUDGET_S = 1.0  # generous: a warm worker on a busy machine answers a good call well within it
CAP = 256 << 20
NEW_KEY = next(k for k in (f"book-{i}" for i in range(200)) if routing_point(COMPONENT, k) < 0.5)
CRASHES = ("killed_by_signal", "segfaults", "exits", "hangs", "hogs")
FAULTS = ("raises", "system_exit", "returns_none", "nan", *CRASHES)
FAILURE_KIND = {"hangs": ErrorKind.TIMEOUT, "returns_none": ErrorKind.INVALID_RESULT,
                "nan": ErrorKind.INVALID_RESULT}  # fmt: skip
LOST_COUNTER = {"killed_by_signal": "candidate_worker_deaths", "segfaults": "candidate_worker_deaths",
                "exits": "candidate_worker_deaths", "hangs": "candidate_worker_killed",
                "hogs": "candidate_worker_recycled"}  # fmt: skip


def finite_float(value: object) -> str | None:
    """The component's result check: a finite float, nothing else."""
    return None if isinstance(value, float) and math.isfinite(value) else f"not a finite float: {value!r}"


def rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * 4096


class Clock:
    """A monotonic clock the test moves on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """One router, its state source, sink and clock."""

    def __init__(self, candidate: object) -> None:
        self.clock = Clock()
        self.source = InMemoryStateSource()
        self.sink = InMemorySink()
        self.recorder = ObservationRecorder(self.sink, flush_interval_s=0.01)
        self.router = Router(
            COMPONENT, legacy=engines.legacy_of_faulty, candidate=candidate, state_source=self.source,
            recorder=self.recorder, shadow_timeout_s=BUDGET_S, shadow_workers=1, refresh_interval_s=3600.0,
            validate=finite_float, candidate_isolation="process", candidate_processes=1,
            candidate_memory_cap_bytes=CAP, candidate_memory_every=1, clock=self.clock,
            breaker_failures=3, breaker_cool_down_s=30.0,
        )  # fmt: skip

    def enter(self, mode: Mode) -> None:
        """Move on past any breaker window, put the component in ``mode``, and wait for a worker."""
        assert self.router.flush()  # the previous cell's shadow calls are recorded before this one's
        self.clock.now += 3600.0
        self.source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
        assert self.router.refresh()
        assert self.router.wait_for_candidate(120.0)

    def close(self) -> None:
        self.router.close()
        self.recorder.close()


@pytest.fixture(scope="module")
def rigs() -> Iterator[dict[str, Rig]]:
    made = {"sync": Rig(engines.faulty), "async": Rig("process_engines:afaulty")}
    rss_before = rss_bytes()
    yield made
    for rig in made.values():
        rig.close()
    # The candidate allocated 2 GiB at a time and crashed a dozen workers: none of it is ours.
    assert rss_bytes() - rss_before < 64 << 20


MODES = (Mode.SHADOW, Mode.CANARY, Mode.FULL)
# async-via-call shares the worker path with acall once the call is sent: one crash stands for all
CELLS = (
    [("sync", "call", fault, mode) for fault in FAULTS for mode in MODES]
    + [("async", "acall", fault, Mode.FULL) for fault in FAULTS]
    + [("async", "call", fault, Mode.FULL) for fault in FAULTS if fault not in CRASHES or fault == "exits"]
)


@pytest.mark.parametrize(("candidate", "path", "fault", "mode"), CELLS)
async def test_faulty_candidate_is_answered_by_legacy_and_counted(rigs, candidate, path, fault, mode):
    """The caller gets legacy's value, no exception; the failure is counted, recorded, the worker replaced."""
    rig = rigs[candidate]
    rig.enter(mode)
    before, seen = rig.router.stats(), len(rig.sink.observations)
    if path == "acall":
        answer = await rig.router.acall(1.5, routing_key=NEW_KEY, fault=fault)
    else:
        answer = rig.router.call(1.5, routing_key=NEW_KEY, fault=fault)
    assert answer == 3.0
    assert rig.router.flush()
    after = rig.router.stats()
    kind = FAILURE_KIND.get(fault, ErrorKind.EXCEPTION)
    counter = f"shadow_{kind.value}" if mode is Mode.SHADOW else f"fallback_{kind.value}"
    moved = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    assert after[counter] - before[counter] == 1, moved
    [observation] = rig.sink.observations[seen:]
    assert (observation.route, observation.error_kind) == (Route.LEGACY, kind)
    if fault in CRASHES:
        lost = LOST_COUNTER[fault]
        assert after[lost] - before[lost] == 1
        assert rig.router.wait_for_candidate(120.0)  # replaced
    good = rig.router.call(1.5, routing_key=NEW_KEY, fault="none")
    assert good == 3.0


@pytest.mark.parametrize("candidate", ["sync", "async"])
def test_good_candidate_answers_through_its_worker_with_memory(rigs, candidate):
    """In full mode the worker's answers are served, and observations carry sampled peak memory."""
    rig = rigs[candidate]
    rig.enter(Mode.FULL)
    before, seen = rig.router.stats(), len(rig.sink.observations)
    for _ in range(2):  # the first call's sample rides on the second's reply
        assert rig.router.call(4.0, routing_key="any-book", fault="none") == 8.0
    assert rig.router.flush()
    assert rig.router.stats()["answered_by_candidate"] - before["answered_by_candidate"] == 2
    _first, second = rig.sink.observations[seen:]
    assert second.route is Route.CANDIDATE
    assert second.memory_bytes > 0


def test_a_candidate_that_keeps_killing_workers_is_switched_off(rigs):
    """Three lost workers in a row open the breaker: calls kept from new, counted, legacy answers."""
    rig = rigs["sync"]
    rig.enter(Mode.FULL)
    before = rig.router.stats()
    for _ in range(3):
        assert rig.router.call(1.0, routing_key="k", fault="exits") == 2.0
        assert rig.router.wait_for_candidate(120.0)
    assert rig.router.wait_for_candidate(120.0)
    assert rig.router.call(1.0, routing_key="k", fault="exits") == 2.0  # kept from new: no crash
    after = rig.router.stats()
    assert after["breaker_opened"] - before["breaker_opened"] == 1
    assert after["fallback_circuit_open"] - before["fallback_circuit_open"] == 1
    assert after["fallback_exception"] - before["fallback_exception"] == 3
    assert after["candidate_worker_deaths"] - before["candidate_worker_deaths"] == 3
    rig.clock.now += 3600.0  # the cool-down is over: a good answer closes the breaker, and is served
    assert rig.router.refresh()
    assert rig.router.call(1.0, routing_key="k", fault="none") == 2.0
    final = rig.router.stats()
    assert final["breaker_closed"] - after["breaker_closed"] == 1
    assert final["answered_by_candidate"] - after["answered_by_candidate"] == 1


def test_a_leaking_candidate_never_grows_the_service(rigs):
    """64 MiB kept per call: the worker passes its cap and is recycled; the test process stays flat."""
    source, sink = InMemoryStateSource(), InMemorySink()
    source.set_mode(COMPONENT, Mode.FULL)
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    router = Router(
        COMPONENT, legacy=engines.legacy, candidate=engines.leaks, state_source=source, recorder=recorder,
        shadow_timeout_s=BUDGET_S, candidate_isolation="process", candidate_processes=1,
        candidate_memory_cap_bytes=CAP, refresh_interval_s=3600.0,
    )  # fmt: skip
    try:
        assert router.wait_for_candidate(120.0)
        rss_before = rss_bytes()
        for _ in range(10):  # 640 MiB kept by the candidate over the loop
            assert router.call(1.0, routing_key="k") == 2.0
            assert router.wait_for_candidate(120.0)
        assert rss_bytes() - rss_before < 64 << 20
        assert router.stats()["candidate_worker_recycled"] >= 2
    finally:
        router.close()
        recorder.close()
