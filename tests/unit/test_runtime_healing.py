"""Self-healing: the shadow pool and the event loops recover, the circuit breaker opens and closes,
and a real interrupt of the process still stops it."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator

import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router

COMPONENT = "var_engine"
NEVER = 3600.0


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def legacy(x: float) -> float:
    return 2.0 * x


async def legacy_async(x: float) -> float:
    await asyncio.sleep(0)
    return 2.0 * x


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def make(sink: InMemorySink) -> Iterator[Callable[..., Router]]:
    made: list[tuple[Router, ObservationRecorder]] = []

    def build(candidate: Callable, mode: Mode, **options: object) -> Router:
        source = InMemoryStateSource()
        source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
        recorder = ObservationRecorder(sink, flush_interval_s=0.01)
        options = {"legacy": legacy, "refresh_interval_s": NEVER, **options}
        router = Router(COMPONENT, candidate=candidate, state_source=source, recorder=recorder, **options)
        made.append((router, recorder))
        return router

    yield build
    for router, recorder in made:
        router.close()
        recorder.close()


class Blocker:
    """A candidate that raises what it is told, or blocks until released, or answers 2x."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.raising: BaseException | None = None
        self.block = False

    def __call__(self, x: float) -> float:
        if self.raising is not None:
            raise self.raising
        if self.block:
            self.entered.set()
            for _ in range(3000):  # short waits: a signal is handled between them
                if self.release.wait(0.01):
                    break
        return 2.0 * x


def test_shadow_pool_recovers_after_hangs_and_base_exceptions(make, sink):
    """Hung workers are replaced, saturation skips and counts, BaseExceptions kill no worker, and once
    the hung calls return every later shadow call is judged again and flush() is True."""
    candidate = Blocker()
    router = make(candidate, Mode.SHADOW, shadow_workers=1, shadow_timeout_s=0.02, breaker_failures=1000)
    try:
        for exc in (SystemExit(1), KeyboardInterrupt(), asyncio.CancelledError(), GeneratorExit()):
            candidate.raising = exc
            assert router.call(1.0, routing_key="k") == 2.0
            assert router.flush()
        candidate.raising, candidate.block = None, True
        for _ in range(8):  # more hung calls than the pool may leave stuck (4 per worker)
            assert router.call(1.0, routing_key="k") == 2.0
            assert router.flush()
        stats = router.stats()
        assert stats["shadow_exception"] == 4
        assert stats["shadow_timeout"] + stats["shadow_skipped_stuck"] == 8
        assert stats["shadow_skipped_stuck"] > 0
        candidate.release.set()
        candidate.block = False
        assert wait_for(lambda: router.call(1.0, routing_key="k") == 2.0 and flushed_ok(router))
    finally:
        candidate.release.set()
    assert router.flush()
    assert sink.observations[-1].error_kind is ErrorKind.NONE


def flushed_ok(router: Router) -> bool:
    return router.flush() and router.stats()["shadow_ok"] > 0


def wait_for(predicate: Callable[[], bool], tries: int = 400) -> bool:
    """Try ``predicate`` up to ``tries`` times (the stuck threads return on their own schedule)."""
    for _ in range(tries):
        if predicate():
            return True
        threading.Event().wait(0.01)
    return False


@pytest.mark.parametrize("isolation", ["thread", "inline"])
def test_a_candidate_that_stops_or_loses_its_loop_harms_no_later_call(make, sink, isolation):
    """Async engines through call(): a candidate that stops its event loop, raises SystemExit through
    it, or whose loop is closed afterwards is contained; legacy and later calls keep working."""
    loops: list[asyncio.AbstractEventLoop] = []
    behaviour = {"do": "stop"}

    async def candidate(x: float) -> float:
        loop = asyncio.get_running_loop()
        loops.append(loop)
        if behaviour["do"] == "stop":
            loop.stop()
            await asyncio.sleep(0.01)
        if behaviour["do"] == "exit":
            raise SystemExit(2)
        return 2.0 * x

    router = make(candidate, Mode.FULL, legacy=legacy_async, candidate_isolation=isolation)
    assert router.call(1.0, routing_key="k") == 2.0
    behaviour["do"] = "exit"
    assert router.call(2.0, routing_key="k") == 4.0
    for loop in loops:  # somebody closes the loops the candidate ran on
        if not loop.is_running():
            loop.close()
    behaviour["do"] = "answer"
    assert [router.call(x, routing_key="k") for x in (3.0, 4.0)] == [6.0, 8.0]
    assert router.flush()
    stats = router.stats()
    assert stats["fallback_exception"] >= 1
    assert stats["answered_by_candidate"] >= 1
    assert stats["internal_errors"] == 0


def test_breaker_opens_half_opens_and_closes_with_an_injected_clock(make, sink):
    """Three failures in a row open the breaker (new not called, circuit_open recorded); after the
    cool-down one probe runs: a failure reopens it, a clean answer closes it."""
    clock, calls = FakeClock(), []
    state = {"fail": False}

    def candidate(x: float) -> float:
        calls.append(x)
        if state["fail"]:
            raise RuntimeError("down")
        return 2.0 * x

    router = make(candidate, Mode.FULL, clock=clock, breaker_failures=3, breaker_cool_down_s=30.0)
    assert router.call(1.0, routing_key="k") == 2.0  # teaches the router legacy's answer
    state["fail"] = True
    for _ in range(3):
        assert router.call(1.0, routing_key="k") == 2.0
    assert router.breaker_state == "open"
    before = len(calls)
    assert router.call(1.0, routing_key="k") == 2.0
    assert len(calls) == before  # open: new is off the path
    clock.now += 30.0
    assert router.refresh()
    assert router.breaker_state == "half_open"
    assert router.call(1.0, routing_key="k") == 2.0  # the probe fails: open again
    assert router.breaker_state == "open"
    clock.now += 30.0
    assert router.refresh()
    state["fail"] = False
    assert router.call(5.0, routing_key="k") == 10.0  # the probe succeeds
    assert router.breaker_state == "closed"
    assert router.flush()
    stats = router.stats()
    assert (stats["breaker_opened"], stats["breaker_closed"], stats["fallback_circuit_open"]) == (2, 1, 1)
    kinds = [o.error_kind for o in sink.observations]
    assert kinds.count(ErrorKind.CIRCUIT_OPEN) == 1
    assert kinds.count(ErrorKind.EXCEPTION) == 4


def test_shadow_jobs_respect_the_breaker(make, sink):
    """In shadow a candidate that keeps failing is switched off too: later calls record circuit_open."""
    clock = FakeClock()

    def candidate(x: float) -> float:
        raise RuntimeError("down")

    router = make(candidate, Mode.SHADOW, clock=clock, breaker_failures=2)
    for _ in range(4):
        assert router.call(1.0, routing_key="k") == 2.0
        assert router.flush()
    kinds = [o.error_kind for o in sink.observations]
    assert kinds == [ErrorKind.EXCEPTION] * 2 + [ErrorKind.CIRCUIT_OPEN] * 2


@pytest.mark.parametrize("isolation", ["thread", "inline"])
def test_a_real_interrupt_still_stops_the_caller(make, isolation):
    """SIGINT delivered while the caller waits for new (on a worker, or inline) raises KeyboardInterrupt
    in the caller: the router contains the candidate's exceptions, not the process's."""
    candidate = Blocker()
    router = make(candidate, Mode.FULL, candidate_isolation=isolation, shadow_timeout_s=30.0)
    assert router.call(1.0, routing_key="k") == 2.0  # teaches legacy's answer
    candidate.block = True
    main = threading.main_thread().ident
    assert main is not None

    def interrupt() -> None:
        if candidate.entered.wait(30):
            signal.pthread_kill(main, signal.SIGINT)

    killer = threading.Thread(target=interrupt)
    # Python's own SIGINT handler, whatever the process inherited: a shell's background job starts
    # with SIGINT ignored, and then no signal would reach the caller at all
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        killer.start()
        with pytest.raises(KeyboardInterrupt):
            router.call(1.0, routing_key="k")
    finally:
        signal.signal(signal.SIGINT, inherited)
        candidate.release.set()
        killer.join(30)
