"""Candidate isolation: a sync candidate in canary or full never holds the caller beyond its budget."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.errors import BadParameter
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router, routing_point

COMPONENT = "var_engine"
NEVER = 3600.0
BUDGET_S = 0.02
# Keys whose stable point puts them on the candidate at a 50% canary (computed, not assumed).
NEW_KEY = next(k for k in (f"book-{i}" for i in range(200)) if routing_point(COMPONENT, k) < 0.5)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` until true; a bounded wait for an event, not a timing assertion."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def legacy(x: float) -> float:
    return 2.0 * x


class Gate:
    """A candidate that blocks on ``release`` while ``hold`` is set; counts the calls that entered."""

    def __init__(self) -> None:
        self.hold = True
        self.entered = threading.Semaphore(0)
        self.entries = 0
        self.release = threading.Event()
        self.threads: set[int] = set()

    def __call__(self, x: float) -> float:
        self.entries += 1
        self.threads.add(threading.get_ident())
        if self.hold:
            self.entered.release()
            self.release.wait()
        return 3.0 * x


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release.set()  # free every stuck thread, whatever the test did


@pytest.fixture
def make_router(sink: InMemorySink) -> Iterator[Callable[..., Router]]:
    made: list[tuple[Router, ObservationRecorder]] = []

    def make(candidate: Callable, *, mode: Mode = Mode.CANARY, **options: object) -> Router:
        source = InMemoryStateSource()
        source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
        recorder = ObservationRecorder(sink, flush_interval_s=0.01)
        options = {"shadow_timeout_s": BUDGET_S, "refresh_interval_s": NEVER, **options}
        router = Router(COMPONENT, legacy=legacy, candidate=candidate, state_source=source,
                        recorder=recorder, **options)  # fmt: skip
        made.append((router, recorder))
        return router

    yield make
    for router, recorder in made:
        router.close()
        recorder.close()


@pytest.mark.parametrize("mode", [Mode.CANARY, Mode.FULL])
def test_hanging_sync_candidate_times_out_while_still_blocked(make_router, sink, gate, mode):
    """Old answers while new is still blocked, counted as a timeout; a new thread serves the next call."""
    router = make_router(gate, mode=mode)
    assert router.call(1.0, routing_key=NEW_KEY) == 2.0
    assert gate.entered.acquire(timeout=10)  # new has started, and is blocked until release is set
    assert not gate.release.is_set()
    stats = router.stats()
    assert (stats["fallback_timeout"], stats["candidate_abandoned_threads"]) == (1, 1)
    assert router.flush()
    [timed_out] = sink.observations
    assert (timed_out.route, timed_out.error_kind) == (Route.LEGACY, ErrorKind.TIMEOUT)
    gate.hold = False
    # A replacement thread answers (retried: a loaded machine may start it later than the budget).
    assert wait_until(lambda: router.call(1.0, routing_key=NEW_KEY) == 3.0)
    assert len(gate.threads) >= 2
    gate.release.set()


@pytest.mark.parametrize("mode", [Mode.CANARY, Mode.FULL])
async def test_hanging_sync_candidate_never_holds_the_callers_loop(make_router, gate, mode):
    """acall with a hanging sync candidate returns old's value and the loop keeps running meanwhile."""
    router = make_router(gate, mode=mode)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    try:
        assert await router.acall(1.0, routing_key=NEW_KEY) == 2.0
    finally:
        ticker.cancel()
    assert gate.entered.acquire(timeout=10)
    assert not gate.release.is_set()
    assert ticks > 0  # the loop ran other tasks while the candidate was blocked
    assert router.stats()["fallback_timeout"] == 1


def test_candidate_timeout_is_the_callers_budget(make_router, gate):
    """candidate_timeout_s bounds the caller's wait even when the shadow budget is far longer."""
    router = make_router(gate, mode=Mode.FULL, shadow_timeout_s=NEVER, candidate_timeout_s=BUDGET_S)
    assert router.call(1.0, routing_key="any") == 2.0
    assert gate.entered.acquire(timeout=10)
    assert router.stats()["fallback_timeout"] == 1


def test_pool_saturated_by_hung_candidates_goes_straight_to_old(make_router, sink, gate):
    """At the bound of stuck threads, calls skip new (never started) and are counted; then it recovers."""
    router = make_router(gate, mode=Mode.FULL, candidate_workers=1)
    stuck_bound = 4  # stuck threads allowed per candidate worker
    for _ in range(stuck_bound):
        assert router.call(1.0, routing_key="k") == 2.0
    assert wait_until(lambda: gate.entries == stuck_bound)  # every abandoned thread is inside new
    assert router.call(1.0, routing_key="k") == 2.0
    stats = router.stats()
    assert gate.entries == stuck_bound  # new was not called: the caller did not wait for it
    assert (stats["fallback_timeout"], stats["fallback_skipped"]) == (stuck_bound, 1)
    assert stats["candidate_abandoned_threads"] == stuck_bound
    assert router.flush()
    skipped = sink.observations[-1]
    assert (skipped.route, skipped.error_kind, skipped.candidate_latency_us) == (
        Route.LEGACY, ErrorKind.SKIPPED, None,
    )  # fmt: skip
    gate.hold = False
    gate.release.set()  # the stuck threads finish and leave; new threads may start again
    assert wait_until(lambda: router.call(1.0, routing_key="k") == 3.0)


def test_busy_candidate_threads_send_the_extra_caller_to_old(make_router, gate):
    """With every candidate thread busy, another caller is answered by old at once, while new still runs."""
    router = make_router(gate, mode=Mode.FULL, candidate_workers=1, candidate_timeout_s=NEVER)
    answers: list[float] = []
    first = threading.Thread(target=lambda: answers.append(router.call(1.0, routing_key="a")))
    first.start()
    try:
        assert gate.entered.acquire(timeout=10)  # the only candidate thread is taken
        assert router.call(1.0, routing_key="b") == 2.0
        assert router.stats()["fallback_skipped"] == 1
        assert answers == []  # the first caller is still waiting for new
    finally:
        gate.release.set()
        first.join(10)
    assert answers == [3.0]


@pytest.mark.parametrize(("isolation", "same_thread"), [("inline", True), ("thread", False)])
def test_isolation_option_decides_which_thread_runs_new(make_router, gate, isolation, same_thread):
    """Isolation "inline" calls a sync candidate on the caller's thread; "thread" on the router's own."""
    gate.hold = False
    router = make_router(gate, mode=Mode.FULL, candidate_isolation=isolation, candidate_timeout_s=NEVER)
    assert router.call(1.0, routing_key="k") == 2.0  # the first call teaches the router legacy's answer
    assert router.call(1.0, routing_key="k") == 3.0
    assert (gate.threads == {threading.get_ident()}) is same_thread


@pytest.mark.parametrize(
    "options",
    [{"candidate_isolation": "forked"}, {"candidate_workers": 0}, {"candidate_timeout_s": 0.0}],
)
def test_bad_isolation_options_are_refused(options):
    """An unknown isolation, no workers or a non-positive budget raise BadParameter naming the value."""
    with pytest.raises(BadParameter, match=str(next(iter(options.values())))):
        Router(COMPONENT, legacy=legacy, candidate=legacy, state_source=InMemoryStateSource(), **options)


def test_close_stops_idle_candidate_threads_and_stuck_ones_after_release(make_router, gate):
    """After close, idle candidate threads end at once; a stuck one ends when its candidate returns."""

    def candidate_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate()
                if t.name.startswith(f"runbook-candidate-{COMPONENT}") and t not in earlier]  # fmt: skip

    earlier: list[threading.Thread] = []
    earlier.extend(candidate_threads())  # other tests' threads, possibly still winding down
    router = make_router(gate, mode=Mode.FULL)
    assert router.call(1.0, routing_key="k") == 2.0  # one thread now stuck in new
    assert gate.entered.acquire(timeout=10)
    gate.hold = False
    assert wait_until(lambda: router.call(1.0, routing_key="k") == 3.0)  # an idle one exists too
    assert len(candidate_threads()) >= 2
    router.close()
    assert wait_until(lambda: len(candidate_threads()) == 1)  # only the stuck thread is left
    gate.release.set()
    assert wait_until(lambda: candidate_threads() == [])
