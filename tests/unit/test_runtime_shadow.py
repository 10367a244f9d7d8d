"""Shadow mode: whatever the candidate does, the caller gets old's value or old's exception."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router

COMPONENT = "hedge_calculator"
NEVER = 3600.0


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


async def legacy_async(x: float) -> float:
    return 2.0 * x


class LegacyFailure(Exception):
    pass


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def recorder(sink: InMemorySink) -> Iterator[ObservationRecorder]:
    with ObservationRecorder(sink, flush_interval_s=0.01) as recorder:
        yield recorder


@pytest.fixture
def make_router(recorder: ObservationRecorder) -> Iterator[Callable[..., Router]]:
    routers: list[Router] = []

    def make(legacy_fn: Callable = legacy, candidate_fn: Callable = legacy, **options: object) -> Router:
        source = InMemoryStateSource()
        source.set_mode(COMPONENT, Mode.SHADOW)
        options = {"recorder": recorder, "refresh_interval_s": NEVER, **options}
        router = Router(COMPONENT, legacy=legacy_fn, candidate=candidate_fn, state_source=source, **options)
        routers.append(router)
        return router

    yield make
    for router in routers:
        router.close()


def raising(x: float) -> float:
    raise RuntimeError("candidate bug")


async def raising_async(x: float) -> float:
    raise RuntimeError("candidate bug")


def nan(x: float) -> float:
    return math.nan


async def nan_async(x: float) -> float:
    return math.nan


def wrong_type(x: float) -> str:
    return "2.0"


@pytest.mark.parametrize(
    ("candidate", "kind", "counter"),
    [(raising, ErrorKind.EXCEPTION, "shadow_exception"),
     (raising_async, ErrorKind.EXCEPTION, "shadow_exception"),
     (nan, ErrorKind.INVALID_RESULT, "shadow_invalid_result"),
     (nan_async, ErrorKind.INVALID_RESULT, "shadow_invalid_result"),
     (wrong_type, ErrorKind.INVALID_RESULT, "shadow_invalid_result")],
)  # fmt: skip
@pytest.mark.parametrize("api", ["call", "acall"])
async def test_failing_candidate_never_reaches_caller(make_router, sink, candidate, kind, counter, api):
    """A candidate that raises, returns NaN or the wrong type: the caller gets old's value; it is recorded."""
    router = make_router(legacy, candidate)
    for x in (1.0, 2.0, 3.0):
        answer = router.call(x, routing_key="b") if api == "call" else await router.acall(x, routing_key="b")
        assert answer == 2.0 * x
    assert router.flush()
    assert [o.error_kind for o in sink.observations] == [kind] * 3
    assert router.stats()[counter] == 3


def test_hanging_sync_candidate_does_not_hold_the_caller(make_router, sink):
    """The call returns while the candidate is still blocked; its timeout is recorded; shadowing goes on."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def hangs(x: float) -> float:
        if x == 1.0:
            started.set()
            release.wait()
            finished.set()
        return 2.0 * x

    # The budget also applies to the second, instant call: roomy enough that a loaded machine
    # pausing its worker for a few scheduler slices cannot turn that call into a timeout too.
    router = make_router(legacy, hangs, shadow_timeout_s=0.5, shadow_workers=1)
    try:
        assert router.call(1.0, routing_key="b") == 2.0
        assert started.wait(10)
        assert not finished.is_set()  # the caller already has its answer, the candidate has not finished
        assert wait_until(lambda: router.stats()["shadow_timeout"] == 1)
        assert router.call(2.0, routing_key="b") == 4.0  # served by the replacement worker
        assert router.flush()
        kinds = [o.error_kind for o in sink.observations]
        assert kinds == [ErrorKind.TIMEOUT, ErrorKind.NONE]
        assert router.stats()["shadow_abandoned_threads"] == 1
        assert sink.observations[0].candidate_digest is None
    finally:
        release.set()


async def test_hanging_async_candidate_is_cancelled_at_its_budget(make_router, sink):
    """An async candidate that never answers is cancelled and recorded as a timeout; the caller is served."""
    cancelled = threading.Event()

    async def hangs(x: float) -> float:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0.0

    router = make_router(legacy_async, hangs, shadow_timeout_s=0.02)
    assert await router.acall(1.0, routing_key="b") == 2.0
    assert await asyncio.to_thread(router.flush)
    assert [o.error_kind for o in sink.observations] == [ErrorKind.TIMEOUT]
    assert cancelled.wait(10)


async def test_async_candidate_blocking_its_loop_never_stalls_the_callers_loop(make_router, sink):
    """An async candidate that blocks (no await) stalls only the router's private loop, not the caller's."""
    blocking, release = threading.Event(), threading.Event()

    async def blocks(x: float) -> float:
        blocking.set()
        release.wait()  # blocks whichever loop runs it
        return 2.0 * x

    router = make_router(legacy_async, blocks, shadow_timeout_s=0.02)
    try:
        assert await router.acall(1.0, routing_key="b") == 2.0
        assert await asyncio.to_thread(blocking.wait, 10)
        tick = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(tick.set_result, "loop alive")
        assert await tick == "loop alive"  # our loop still runs while the candidate blocks
        assert not release.is_set()
    finally:
        release.set()


@pytest.mark.parametrize("api", ["call", "acall"])
@pytest.mark.parametrize("legacy_kind", ["sync", "async"])
async def test_old_exception_propagates_unchanged(make_router, sink, api, legacy_kind):
    """Old's exception reaches the caller as the same object; the shadow call still runs and is recorded."""
    failure = LegacyFailure("legacy says no")

    def old(x: float) -> float:
        raise failure

    async def old_async(x: float) -> float:
        raise failure

    router = make_router(old if legacy_kind == "sync" else old_async, legacy)
    call = (
        asyncio.to_thread(router.call, 1.0, routing_key="b")
        if api == "call"
        else router.acall(1.0, routing_key="b")
    )
    with pytest.raises(LegacyFailure) as caught:
        await call
    assert caught.value is failure
    assert router.flush()
    [observation] = sink.observations
    assert observation.error_kind is ErrorKind.LEGACY_EXCEPTION
    assert observation.legacy_digest == "!LegacyFailure"


def test_full_queue_skips_shadow_calls_and_counts_them(make_router):
    """With the worker busy and the queue full, further calls skip shadowing, counted, never waiting."""
    started, release = threading.Event(), threading.Event()

    def slow(x: float) -> float:
        started.set()
        release.wait()
        return 2.0 * x

    router = make_router(legacy, slow, shadow_workers=1, shadow_queue=1, shadow_timeout_s=60.0)
    try:
        assert router.call(1.0, routing_key="b") == 2.0
        assert started.wait(10)  # the worker holds job 1
        answers = [router.call(x, routing_key="b") for x in (2.0, 3.0, 4.0)]  # 2 queued, 3 and 4 skipped
        assert answers == [4.0, 6.0, 8.0]
        assert router.stats()["shadow_skipped_queue_full"] == 2
    finally:
        release.set()
    assert router.flush()
    assert router.stats()["shadow_ok"] == 2


def test_full_recorder_counts_dropped_observations(sink):
    """A recorder that cannot keep up drops observations and the router counts them; callers are served."""
    release = threading.Event()

    class StuckSink:
        def write_batch(self, observations):
            release.wait()
            return len(observations)

    source = InMemoryStateSource()
    source.set_mode(COMPONENT, Mode.SHADOW)
    recorder = ObservationRecorder(StuckSink(), queue_size=1, batch_size=1, flush_interval_s=0.01)
    router = Router(COMPONENT, legacy=legacy, candidate=legacy, state_source=source, recorder=recorder,
                    refresh_interval_s=NEVER)  # fmt: skip
    try:
        assert [router.call(float(x), routing_key="b") for x in range(20)] == [2.0 * x for x in range(20)]
        assert wait_until(lambda: router.stats()["observations_dropped"] > 0)
    finally:
        release.set()
        router.close()
        recorder.close()


def test_compare_and_validate_crashes_become_counted_reasons(make_router, sink):
    """A compare that raises is a mismatch without differences; a validate that raises marks it invalid."""

    def broken_compare(old, new):
        raise ZeroDivisionError("compare bug")

    router = make_router(legacy, legacy, compare=broken_compare)
    assert router.call(1.0, routing_key="b") == 2.0
    assert router.flush()
    first = sink.observations[0]
    assert (first.abs_difference, first.error_kind) == (None, ErrorKind.MISMATCH)
    assert router.stats()["compare_errors"] == 1

    def broken_validate(new):
        raise KeyError("validate bug")

    router = make_router(legacy, legacy, validate=broken_validate)
    assert router.call(1.0, routing_key="b") == 2.0
    assert router.flush()
    assert sink.observations[1].error_kind is ErrorKind.INVALID_RESULT
    assert router.stats()["validate_errors"] == 1
