"""Shadow calls with process isolation: sent to the worker in batches and judged there, every call
counted and recorded once, whatever one call of a batch does to its worker."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import process_engines as engines
import pytest

from runbook.domain.capture import CaptureReason
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime import (
    InMemoryCaptureSink,
    InMemorySink,
    InMemoryStateSource,
    ObservationRecorder,
    RequestCapture,
    Router,
    result_digest,
)  # fmt: skip

COMPONENT = "var_engine"
CALLS = 8


def finite_float(value: object) -> str | None:
    """The component's result check: a finite float (a module-level function: it reaches the workers)."""
    return None if isinstance(value, float) and math.isfinite(value) else "not a finite float"


def legacy_fails_on_zero(x: float, fault: str = "none") -> float:
    if x == 0.0:
        raise ValueError("no answer for 0")
    return 2.0 * x


class Rig:
    def __init__(self, *, validate: object = finite_float, legacy: object = engines.legacy_of_faulty) -> None:
        self.source, self.sink, self.captured = InMemoryStateSource(), InMemorySink(), InMemoryCaptureSink()
        self.source.set_mode(COMPONENT, Mode.SHADOW)
        self.recorder = ObservationRecorder(self.sink, flush_interval_s=0.01)
        self.capture = RequestCapture(self.captured)
        self.window = (0.0, 0.0)  # when the last ``shadow`` made its calls
        self.router = Router(
            COMPONENT, legacy=legacy, candidate=engines.faulty, state_source=self.source,
            recorder=self.recorder, capture=self.capture, validate=validate, shadow_timeout_s=1.0,
            candidate_isolation="process", candidate_processes=1, candidate_memory_every=1,
            candidate_memory_cap_bytes=256 << 20,
            refresh_interval_s=3600.0, breaker_failures=100,
        )  # fmt: skip
        assert self.router.wait_for_candidate(120.0)

    def shadow(self, faults: list[str]) -> tuple[dict[str, int], list]:
        """One call per fault in a tight loop (one batch, as a rule); the counters moved, the observations."""
        assert self.router.refresh()  # the state is read again (the poll is off)
        seen, before = len(self.sink.observations), self.router.stats()
        started = time.time()
        for i, fault in enumerate(faults):
            assert self.router.call(float(i + 1), routing_key=f"book-{i}", fault=fault) == 2.0 * (i + 1)
        self.window = (started, time.time())  # when the calls were made, wall clock
        assert self.router.flush(60.0)
        assert self.capture.flush(10.0)
        after = self.router.stats()
        moved = {name: after[name] - before[name] for name in after if after[name] != before[name]}
        return moved, sorted(self.sink.observations[seen:], key=lambda o: o.routing_key)

    def close(self) -> None:
        self.router.close()
        self.recorder.close()
        self.capture.close()


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    made = Rig()
    yield made
    made.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("fault", "kind", "lost"),
    [("hangs", ErrorKind.TIMEOUT, "candidate_worker_killed"),
     ("exits", ErrorKind.EXCEPTION, "candidate_worker_deaths"),
     ("killed_by_signal", ErrorKind.EXCEPTION, "candidate_worker_deaths"),
     ("hogs", ErrorKind.EXCEPTION, "candidate_worker_recycled")],
)  # fmt: skip
def test_a_call_ending_its_worker_mid_batch_takes_the_blame_and_the_rest_are_judged(rig, fault, kind, lost):
    """The third of eight calls hangs, exits, is killed or passes the cap: it alone fails; the
    calls sent after it in its batch go to the replacement worker and are judged clean."""
    faults = ["none"] * CALLS
    faults[2] = fault
    moved, observations = rig.shadow(faults)
    assert moved["calls_shadow"] == CALLS, moved
    assert moved.get(f"shadow_{kind.value}") == 1, moved
    assert moved.get("shadow_ok") == CALLS - 1, moved
    assert moved[lost] == 1
    assert [o.routing_key for o in observations] == [f"book-{i}" for i in range(CALLS)]
    assert [o.error_kind for o in observations] == [kind if i == 2 else ErrorKind.NONE for i in range(CALLS)]
    assert all(o.route is Route.LEGACY for o in observations)
    # the failed call's observation, built in the service, and the judged ones carry the call's wall time
    started, ended = rig.window
    assert all(started <= o.at <= ended for o in observations), [o.at for o in observations]
    assert rig.router.wait_for_candidate(120.0)  # replaced


def test_answers_judged_in_the_worker_carry_digests_differences_and_memory(rig):
    """Clean calls: legacy's and new's digests (equal answers, equal digests), 0 difference, a
    memory sample per call; a wrong answer is a mismatch whose request and both values are kept."""
    moved, observations = rig.shadow(["none", "wrong", "nan", "raises"])
    assert (moved["shadow_ok"], moved["shadow_mismatch"], moved["shadow_invalid_result"],
            moved["shadow_exception"]) == (1, 1, 1, 1)  # fmt: skip
    clean, wrong, nan, raised = observations
    assert clean.error_kind is ErrorKind.NONE
    assert clean.legacy_digest == clean.candidate_digest == result_digest(2.0)
    assert (clean.abs_difference, clean.rel_difference) == (0.0, 0.0)
    assert clean.memory_bytes > 0
    assert wrong.error_kind is ErrorKind.MISMATCH
    assert wrong.abs_difference == 1.0
    assert (wrong.legacy_digest, wrong.candidate_digest) == (result_digest(4.0), result_digest(5.0))
    assert nan.error_kind is ErrorKind.INVALID_RESULT
    assert raised.error_kind is ErrorKind.EXCEPTION
    assert raised.candidate_digest == "!ValueError"
    [kept] = [c for c in rig.captured.captures if c.routing_key == "book-1"]
    assert kept.reason is CaptureReason.MISMATCH
    assert (kept.legacy_value, kept.candidate_value) == ("4.0", "5.0")


def test_a_judge_that_cannot_reach_the_workers_judges_in_the_service():
    """A lambda as ``validate`` cannot be sent to a worker: the router judges the answers itself,
    with the same outcomes."""
    rig = Rig(validate=lambda value: None if value == value else "NaN")
    try:
        moved, observations = rig.shadow(["none", "wrong", "nan", "returns_none"])
        assert (moved["shadow_ok"], moved["shadow_mismatch"], moved["shadow_invalid_result"]) == (1, 1, 2)
        assert observations[0].candidate_digest == result_digest(2.0)
        assert observations[1].abs_difference == 1.0
    finally:
        rig.close()


def test_legacy_failing_in_shadow_is_recorded_with_its_exception_digest():
    """Old raised (the caller got it): the shadow call is recorded as legacy_exception, old's digest
    naming the exception, new's answer digested."""
    rig = Rig(legacy=legacy_fails_on_zero)
    try:
        assert rig.router.refresh()
        seen, started = len(rig.sink.observations), time.time()
        with pytest.raises(ValueError, match="no answer for 0"):
            rig.router.call(0.0, routing_key="book-0", fault="none")
        ended = time.time()
        assert rig.router.flush(60.0)
        [observation] = rig.sink.observations[seen:]
        assert started <= observation.at <= ended  # the call's wall time
        assert observation.error_kind is ErrorKind.LEGACY_EXCEPTION
        assert observation.legacy_digest == "!ValueError"
        assert observation.candidate_digest == result_digest(0.0)
        assert rig.router.stats()["shadow_legacy_exception"] == 1
    finally:
        rig.close()


def test_a_burst_longer_than_one_message_is_judged_once_per_call_in_order(rig):
    """Fifty calls in a tight loop are more than one message carries (16): every call is counted,
    judged and recorded once, in the order made, with a wrong answer in the third message found."""
    faults = ["none"] * 50
    faults[37] = "wrong"
    moved, observations = rig.shadow(faults)
    assert moved["calls_shadow"] == 50, moved
    assert (moved.get("shadow_ok"), moved.get("shadow_mismatch")) == (49, 1), moved
    by_key = {o.routing_key: o for o in observations}
    assert sorted(by_key) == sorted(f"book-{i}" for i in range(50))
    assert [i for i in range(50) if by_key[f"book-{i}"].error_kind is ErrorKind.MISMATCH] == [37]
    assert all(by_key[f"book-{i}"].legacy_digest == result_digest(2.0 * (i + 1)) for i in range(50))
    times = [by_key[f"book-{i}"].at for i in range(50)]
    assert times == sorted(times)  # each observation keeps its own call's time
    started, ended = rig.window
    assert started <= times[0]  # on the wall clock
    assert times[-1] <= ended


def test_a_caller_that_never_leaves_its_call_cannot_stall_the_pump_or_the_recorder():
    """The pump and the recorder hold their work while a caller is inside a shadow call, for a
    bounded time only: told that a caller is always inside one, they still send, judge and write
    every call."""
    rig = Rig()
    try:
        rig.router._batches.in_call = lambda: True
        rig.recorder.hold_while(lambda: True)
        moved, observations = rig.shadow(["none"] * 20)
        assert (moved["calls_shadow"], moved.get("shadow_ok")) == (20, 20), moved
        assert sorted(o.routing_key for o in observations) == sorted(f"book-{i}" for i in range(20))
    finally:
        rig.close()


def test_a_shadow_call_is_marked_while_legacy_runs_and_unmarked_after_it_raises():
    """While legacy runs the router says a caller is inside a shadow call (what the pump waits
    for); once legacy returned or raised, it says so no more."""
    seen: list[bool] = []
    holder: dict[str, Router] = {}

    def legacy(x: float, fault: str = "none") -> float:
        seen.append(holder["router"]._in_shadow_call())
        if x == 2.0:
            raise ValueError("legacy has no answer for 2")
        return 2.0 * x

    rig = Rig(legacy=legacy)
    holder["router"] = rig.router
    try:
        assert rig.router.refresh()
        assert rig.router.call(1.0, routing_key="a") == 2.0
        assert not rig.router._in_shadow_call()
        with pytest.raises(ValueError, match="no answer for 2"):
            rig.router.call(2.0, routing_key="b")
        assert not rig.router._in_shadow_call()
        assert seen == [True, True]
        assert rig.router.flush(60.0)
        assert rig.router.stats()["calls_shadow"] == 2
    finally:
        rig.close()
