"""The safety net under every candidate fault: each (fault x mode x engine x isolation) cell.

Whatever the candidate does, the caller gets legacy's answer (in canary and full a wrong but
plausible number may be served, and is then observed as a mismatch), no exception reaches the
caller, nothing hangs, and every call is counted and recorded as exactly one observation.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass

import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime import (
    InMemorySink,
    InMemoryStateSource,
    ObservationRecorder,
    Router,
    default_validate,
    routing_point,
)

COMPONENT = "var_engine"
NEVER = 3600.0
HANG_S = 0.15  # how long a hanging candidate holds its thread (or, inline, the caller)
TIGHT_S = 0.03  # the budget of cells whose candidate hangs
ROOMY_S = 10.0  # the budget of the others: a busy machine never turns their fault into a timeout
CALLS = 3
KEYS = [k for k in (f"book-{i}" for i in range(400)) if routing_point(COMPONENT, k) < 0.5][:CALLS]


@dataclass(frozen=True)
class Risk:
    var: float
    es: float
    contributions: tuple[float, float]


def answer(x: float) -> Risk:
    return Risk(var=x, es=1.25 * x, contributions=(0.5 * x, 0.5 * x))


def legacy(x: float) -> Risk:
    return answer(x)


async def legacy_async(x: float) -> Risk:
    await asyncio.sleep(0)
    return answer(x)


class Custom(BaseException):
    """A BaseException of the candidate's own."""


RAISES = {
    "exception": lambda: RuntimeError("candidate bug"),
    "system_exit": lambda: SystemExit(3),
    "keyboard_interrupt": lambda: KeyboardInterrupt(),
    "cancelled": lambda: asyncio.CancelledError(),
    "custom_base_exception": lambda: Custom("mine"),
}
WRONG = {
    "none": lambda x: None,
    "wrong_type": lambda x: f"VaR is {x}",
    "wrong_shape": lambda x: Risk(var=x, es=1.25 * x, contributions=(x,)),  # type: ignore[arg-type]
    "nan": lambda x: Risk(var=math.nan, es=1.25 * x, contributions=(0.5 * x, 0.5 * x)),
    "inf": lambda x: Risk(var=x, es=math.inf, contributions=(0.5 * x, 0.5 * x)),
    "negative_var": lambda x: Risk(var=-x, es=1.25 * x, contributions=(0.5 * x, 0.5 * x)),
}
PLAUSIBLY_WRONG = "two_percent_off"
FAULTS = [*RAISES, "hang", "block_loop", *WRONG, PLAUSIBLY_WRONG]


def misbehave(fault: str, x: float) -> Risk:
    """What the candidate does, once its own call started (sync part)."""
    if fault in RAISES:
        raise RAISES[fault]()
    if fault in ("hang", "block_loop"):
        time.sleep(HANG_S)  # in a coroutine this blocks its event loop
        return answer(x)
    if fault in WRONG:
        return WRONG[fault](x)
    return Risk(var=1.02 * x, es=1.25 * x, contributions=(0.5 * x, 0.5 * x))


def make_candidate(fault: str, engine: str):
    if engine == "sync":
        return lambda x: misbehave(fault, x)

    async def candidate(x: float) -> Risk:
        if fault == "hang":
            await asyncio.sleep(HANG_S)  # a well-behaved coroutine that takes too long
        await asyncio.sleep(0)
        return misbehave(fault, x)

    return candidate


def validate(result: object) -> str | None:
    """The component's result check: finite numbers and a VaR that is not negative."""
    reason = default_validate(result)
    if reason is None and isinstance(result, Risk) and result.var < 0:
        return f"negative VaR {result.var}"
    return reason


def expected_kinds(fault: str, mode: Mode) -> set[ErrorKind]:
    if fault in RAISES:
        return {ErrorKind.EXCEPTION}
    if fault in ("hang", "block_loop"):
        return {ErrorKind.TIMEOUT}
    if fault == PLAUSIBLY_WRONG:
        return {ErrorKind.MISMATCH}
    if mode is Mode.SHADOW or fault in ("none", "nan", "inf", "negative_var"):
        return {ErrorKind.INVALID_RESULT}
    # before the router has seen legacy's kind of answer, a wrong type or shape passes validate and
    # is answered by legacy (not served), then compared with it: a mismatch
    return {ErrorKind.INVALID_RESULT, ErrorKind.MISMATCH}


def ask(router: Router, engine: str, x: float, key: str) -> object:
    """One caller's call: sync through call() on this (main) thread, or acall() on a fresh loop."""
    if engine == "async-acall":
        return asyncio.run(router.acall(x, routing_key=key))
    return router.call(x, routing_key=key)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("isolation", ["thread", "inline"])
@pytest.mark.parametrize("engine", ["sync", "async-acall", "async-call"])
@pytest.mark.parametrize("mode", [Mode.SHADOW, Mode.CANARY, Mode.FULL])
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_is_contained_counted_and_observed(fault, mode, engine, isolation):
    """0 caller exceptions, 0 invalid values served, wrong values served seen as mismatches, all counted."""
    sink, source = InMemorySink(), InMemoryStateSource()
    source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
    budget = TIGHT_S if fault in ("hang", "block_loop") else ROOMY_S
    asynchronous = engine != "sync"
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    router = Router(
        COMPONENT, legacy=legacy_async if asynchronous else legacy,
        candidate=make_candidate(fault, "async" if asynchronous else "sync"), state_source=source,
        recorder=recorder, validate=validate, shadow_timeout_s=budget, candidate_isolation=isolation,
        refresh_interval_s=NEVER, breaker_failures=CALLS + 1,
    )  # fmt: skip
    try:
        answers = [ask(router, engine, float(i + 1), key) for i, key in enumerate(KEYS)]
        assert router.flush(30)
        observations = sink.observations
        stats = router.stats()
    finally:
        router.close()
        recorder.close()

    served_wrong = []
    for i, got in enumerate(answers):
        right = answer(float(i + 1))
        assert isinstance(got, Risk)
        assert math.isfinite(got.var)
        assert got.var >= 0
        assert len(got.contributions) == 2
        if got != right:
            assert fault == PLAUSIBLY_WRONG
            assert mode is not Mode.SHADOW
            served_wrong.append(KEYS[i])
    assert len(observations) == CALLS
    assert {o.error_kind for o in observations} <= expected_kinds(fault, mode)
    assert {o.mode for o in observations} == {mode.value}
    candidate_served = [o for o in observations if o.route is Route.CANDIDATE]
    assert sorted(o.routing_key for o in candidate_served) == sorted(served_wrong)
    assert all(o.error_kind is ErrorKind.MISMATCH for o in candidate_served)
    if mode is Mode.SHADOW:
        outcomes = sum(v for k, v in stats.items() if k.startswith("shadow_") and "thread" not in k)
    else:
        outcomes = (
            stats["answered_by_candidate"]
            + stats["answered_by_legacy_first"]
            + sum(v for k, v in stats.items() if k.startswith("fallback_"))
        )
    assert outcomes == CALLS


# ---- the process-isolation column ---------------------------------------------------------------
# Workers import the candidate, so it is a module-level callable here, and one router per engine
# kind serves every cell (a worker takes about a second to start): the fault travels with the call.
# Hangs are the process pool's own cells (tests/unit/test_runtime_process_faults.py: the worker is
# killed at the deadline and replaced), as are crashes, exits, signals and memory caps.

PROCESS_FAULTS = [fault for fault in FAULTS if fault not in ("hang", "block_loop")]


def legacy_of_any(x: float, fault: object = None) -> Risk:
    return answer(x)


UNPICKLABLE = "right_but_unpicklable"


def right_but_unpicklable(x: float) -> Risk:
    """The right answer, carrying a lock (a cache handle, say): equal to legacy's, but no pickle."""
    risk = answer(x)
    object.__setattr__(risk, "handle", threading.Lock())
    return risk


def misbehaving(x: float, fault: object = None) -> Risk:
    if fault == UNPICKLABLE:
        return right_but_unpicklable(x)
    return answer(x) if not isinstance(fault, str) else misbehave(fault, x)


async def misbehaving_async(x: float, fault: object = None) -> Risk:
    await asyncio.sleep(0)
    return misbehaving(x, fault)


@pytest.fixture(scope="module")
def process_routers():
    made = {}
    for engine, candidate in (("sync", misbehaving), ("async-acall", misbehaving_async)):
        sink, source = InMemorySink(), InMemoryStateSource()
        recorder = ObservationRecorder(sink, flush_interval_s=0.01)
        router = Router(COMPONENT, legacy=legacy_of_any, candidate=candidate, state_source=source,
                        recorder=recorder, validate=validate, shadow_timeout_s=ROOMY_S,
                        candidate_isolation="process", candidate_processes=1, refresh_interval_s=NEVER,
                        breaker_failures=10_000)  # fmt: skip
        assert router.wait_for_candidate(120.0)
        made[engine] = (router, source, sink, recorder)
    yield made
    for router, _source, _sink, recorder in made.values():
        router.close()
        recorder.close()


def _served_and_seen(router: Router, sink: InMemorySink, engine: str, fault: object
                     ) -> tuple[list[object], list, dict[str, int]]:  # fmt: skip
    before, seen, started = router.stats(), len(sink.observations), time.time()
    if engine == "sync":
        answers = [router.call(float(i + 1), routing_key=key, fault=fault) for i, key in enumerate(KEYS)]
    else:
        answers = [asyncio.run(router.acall(float(i + 1), routing_key=key, fault=fault))
                   for i, key in enumerate(KEYS)]  # fmt: skip
    ended = time.time()
    assert router.flush(30)
    after = router.stats()
    moved = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    observations = sink.observations[seen:]
    # every observation carries its call's wall time, whichever path (and caller) made it
    assert all(started <= o.at <= ended for o in observations), [o.at for o in observations]
    return answers, observations, moved


@pytest.mark.timeout(120)
@pytest.mark.parametrize("engine", ["sync", "async-acall"])
@pytest.mark.parametrize("mode", [Mode.SHADOW, Mode.CANARY, Mode.FULL])
@pytest.mark.parametrize("fault", PROCESS_FAULTS)
def test_fault_is_contained_in_a_candidate_process(process_routers, fault, mode, engine):
    """Process isolation: 0 caller exceptions, 0 invalid values served, wrong values seen, all counted."""
    router, source, sink, _recorder = process_routers[engine]
    source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
    assert router.refresh()
    answers, observations, moved = _served_and_seen(router, sink, engine, fault)
    served_wrong = [KEYS[i] for i, got in enumerate(answers) if got != answer(float(i + 1))]
    for got in answers:
        assert isinstance(got, Risk)
        assert math.isfinite(got.var)
        assert got.var >= 0
        assert len(got.contributions) == 2
    assert not served_wrong or (fault == PLAUSIBLY_WRONG and mode is not Mode.SHADOW)
    assert len(observations) == CALLS
    assert {o.error_kind for o in observations} <= expected_kinds(fault, mode)
    candidate_served = [o for o in observations if o.route is Route.CANDIDATE]
    assert sorted(o.routing_key for o in candidate_served) == sorted(served_wrong)
    if mode is Mode.SHADOW:
        outcomes = sum(v for k, v in moved.items() if k.startswith("shadow_") and "thread" not in k)
    else:
        outcomes = sum(v for k, v in moved.items()
                       if k.startswith(("fallback_", "answered_by_")))  # fmt: skip
    assert outcomes == CALLS, moved


@pytest.mark.timeout(120)
@pytest.mark.parametrize("engine", ["sync", "async-acall"])
@pytest.mark.parametrize("mode", [Mode.SHADOW, Mode.CANARY, Mode.FULL])
def test_a_request_the_pipe_cannot_carry_is_answered_by_legacy(process_routers, mode, engine):
    """An argument no pickle can carry (a lock) reaches legacy as it is; the candidate's worker never
    sees the call, which counts as new's exception: no caller exception, every call observed once."""
    router, source, sink, _recorder = process_routers[engine]
    source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
    assert router.refresh()
    answers, observations, moved = _served_and_seen(router, sink, engine, threading.Lock())
    assert answers == [answer(float(i + 1)) for i in range(CALLS)]
    assert len(observations) == CALLS
    assert {o.error_kind for o in observations} == {ErrorKind.EXCEPTION}
    assert {o.route for o in observations} == {Route.LEGACY}
    assert moved["candidate_serialize_errors"] == CALLS, moved
    assert moved.get("shadow_exception" if mode is Mode.SHADOW else "fallback_exception") == CALLS, moved


@pytest.mark.timeout(120)
@pytest.mark.parametrize("engine", ["sync", "async-acall"])
@pytest.mark.parametrize("mode", [Mode.SHADOW, Mode.CANARY, Mode.FULL])
def test_a_right_answer_that_cannot_cross_back_is_never_served(process_routers, mode, engine):
    """The candidate's answer is right but cannot be pickled. In shadow it is judged where it was
    made and never has to cross: a clean call. In canary and full it would have to be served: the
    worker says it cannot send it, and legacy answers (new's exception, counted)."""
    router, source, sink, _recorder = process_routers[engine]
    source.set_mode(COMPONENT, mode, traffic_fraction=0.5 if mode is Mode.CANARY else None)
    assert router.refresh()
    answers, observations, moved = _served_and_seen(router, sink, engine, UNPICKLABLE)
    assert answers == [answer(float(i + 1)) for i in range(CALLS)]
    assert all(not hasattr(got, "handle") for got in answers)  # legacy's own, never the candidate's
    assert len(observations) == CALLS
    assert {o.route for o in observations} == {Route.LEGACY}
    if mode is Mode.SHADOW:
        assert {o.error_kind for o in observations} == {ErrorKind.NONE}
        assert moved.get("shadow_ok") == CALLS, moved
    else:
        assert {o.error_kind for o in observations} == {ErrorKind.EXCEPTION}
        assert moved.get("fallback_exception") == CALLS, moved
