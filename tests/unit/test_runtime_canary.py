"""Canary and full modes: new's failures are answered by old and counted as calculation errors."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator

import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router, routing_point

COMPONENT = "var_engine"
NEVER = 3600.0
BUDGET_S = 0.02  # the budget of candidates meant to be late
# The budget of candidates that answer at once: an upper bound, so a loaded machine that starts a
# candidate thread late cannot turn an expected exception into a timeout.
ROOMY_S = 10.0
# Keys whose stable point puts them on the candidate at a 50% canary (computed, not assumed).
NEW_KEYS = [k for k in (f"book-{i}" for i in range(200)) if routing_point(COMPONENT, k) < 0.5][:5]


def legacy(x: float) -> float:
    return 2.0 * x


async def legacy_async(x: float) -> float:
    return 2.0 * x


def raising(x: float) -> float:
    raise RuntimeError("candidate bug")


async def raising_async(x: float) -> float:
    raise RuntimeError("candidate bug")


def infinite(x: float) -> float:
    return math.inf


async def infinite_async(x: float) -> float:
    return math.inf


def late(x: float) -> float:
    time.sleep(BUDGET_S * 3)  # sleeps at least this long: late for sure
    return 2.0 * x


async def hangs_async(x: float) -> float:
    await asyncio.sleep(3600)
    return 2.0 * x


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def make_router(sink: InMemorySink) -> Iterator[Callable[..., Router]]:
    made: list[tuple[Router, ObservationRecorder]] = []

    def make(candidate: Callable, *, mode: Mode = Mode.CANARY, legacy_fn: Callable = legacy, **options):
        source = InMemoryStateSource()
        source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
        recorder = ObservationRecorder(sink, flush_interval_s=0.01)
        router = Router(
            COMPONENT, legacy=legacy_fn, candidate=candidate, state_source=source, recorder=recorder,
            refresh_interval_s=NEVER, **{"shadow_timeout_s": ROOMY_S, **options},
        )  # fmt: skip
        made.append((router, recorder))
        return router

    yield make
    for router, recorder in made:
        router.close()
        recorder.close()


async def ask(router: Router, api: str, x: float, key: str) -> float:
    if api == "call":
        return await asyncio.to_thread(router.call, x, routing_key=key)
    return await router.acall(x, routing_key=key)


CASES = [
    (raising, ErrorKind.EXCEPTION), (raising_async, ErrorKind.EXCEPTION),
    (infinite, ErrorKind.INVALID_RESULT), (infinite_async, ErrorKind.INVALID_RESULT),
    (late, ErrorKind.TIMEOUT), (hangs_async, ErrorKind.TIMEOUT),
]  # fmt: skip


@pytest.mark.parametrize(("candidate", "kind"), CASES)
@pytest.mark.parametrize("api", ["call", "acall"])
@pytest.mark.parametrize("mode", [Mode.CANARY, Mode.FULL])
async def test_failing_candidate_is_answered_by_old(make_router, sink, candidate, kind, api, mode):
    """New raising, returning inf, late or hanging: old answers, counted and recorded as that error."""
    budget_s = BUDGET_S if kind is ErrorKind.TIMEOUT else ROOMY_S
    router = make_router(candidate, mode=mode, shadow_timeout_s=budget_s)
    key = NEW_KEYS[0]
    assert await ask(router, api, 3.0, key) == 6.0
    assert router.stats()[f"fallback_{kind.value}"] == 1
    assert router.flush()
    [observation] = sink.observations
    assert (observation.route, observation.error_kind) == (Route.LEGACY, kind)
    assert observation.candidate_latency_us is not None
    assert observation.legacy_latency_us is not None


@pytest.mark.parametrize("api", ["call", "acall"])
async def test_validate_decides_in_canary(make_router, sink, api):
    """A domain rule (VaR may not be negative) given as validate sends such answers to old."""

    def negative(x: float) -> float:
        return -1.0

    router = make_router(negative, validate=lambda v: "negative VaR" if v < 0 else None)
    assert await ask(router, api, 3.0, NEW_KEYS[0]) == 6.0
    assert router.stats()["fallback_invalid_result"] == 1


@pytest.mark.parametrize("api", ["call", "acall"])
@pytest.mark.parametrize("legacy_fn", [legacy, legacy_async])
async def test_old_exception_after_fallback_propagates(make_router, api, legacy_fn):
    """When new failed and old raises too, the caller gets old's exception."""
    failure = ValueError("legacy failure")

    def old(x: float) -> float:
        raise failure

    router = make_router(raising, legacy_fn=old)
    with pytest.raises(ValueError) as caught:
        await ask(router, api, 1.0, NEW_KEYS[0])
    assert caught.value is failure


@pytest.mark.parametrize("api", ["call", "acall"])
async def test_retired_lets_new_exception_through(make_router, api):
    """Once retired there is no old code: new's exception reaches the caller."""
    router = make_router(raising, mode=Mode.RETIRED)
    with pytest.raises(RuntimeError, match="candidate bug"):
        await ask(router, api, 1.0, "book-1")


def test_canary_keys_off_the_fraction_never_touch_new(make_router, sink):
    """Keys whose point is above the fraction are served by old and recorded as legacy calls."""
    calls: list[float] = []

    def candidate(x: float) -> float:
        calls.append(x)
        return 2.0 * x

    router = make_router(candidate)
    old_keys = [k for k in (f"book-{i}" for i in range(50)) if routing_point(COMPONENT, k) >= 0.5]
    for key in old_keys:
        assert router.call(1.0, routing_key=key) == 2.0
    assert calls == []
    assert router.flush()
    assert {(o.route, o.candidate_latency_us) for o in sink.observations} == {(Route.LEGACY, None)}


def test_unhashable_routing_key_is_served_by_old(make_router):
    """A routing key that cannot be hashed is answered by old and counted, not raised."""
    router = make_router(legacy)
    assert router.call(1.0, routing_key=["not", "hashable"]) == 2.0
    assert router.stats()["internal_errors"] == 1
