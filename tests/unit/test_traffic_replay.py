"""The replay load generator: bounded by count and time, stoppable, round-robin over routers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from runbook.errors import BadParameter, UnknownComponent
from runbook.traffic import BackgroundReplay, StopReason, _replay, replay


class FakeClock:
    """The pacing loop's clock: ``sleep`` moves ``monotonic`` on at once, so no test depends on
    how punctually a loaded machine wakes a sleeping thread."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock in place of the ``time`` module the replay loop paces itself with."""
    fake = FakeClock()
    monkeypatch.setattr(_replay, "time", fake)
    return fake


class FakeRouter:
    """Records the routing keys it was called with; optionally slow (on ``clock``) or failing."""

    def __init__(self, *, delay_s: float = 0.0, fail_every: int = 0, clock: FakeClock | None = None) -> None:
        self.keys: list[str] = []
        self.delay_s, self.fail_every, self.clock = delay_s, fail_every, clock

    def call(self, request: Any, *, routing_key: str) -> Any:
        self.keys.append(routing_key)
        if self.delay_s:
            (self.clock or time).sleep(self.delay_s)
        if self.fail_every and len(self.keys) % self.fail_every == 0:
            raise ValueError(f"legacy failed on {request}")
        return request


def requests(n: int) -> list[tuple[str, int]]:
    return [(f"book-{i}", i) for i in range(n)]


def test_sends_rate_times_duration_requests_then_stops(clock: FakeClock) -> None:
    """At 20/s for 0.25 s the generator plans and sends 5 requests, in order, and stops by count."""
    router = FakeRouter()
    stats = replay("var_engine", router, rate_per_s=20, duration_s=0.25, requests=requests(100))
    assert (stats.planned, stats.sent, stats.stopped) == (5, 5, StopReason.COUNT)
    assert router.keys == [f"book-{i}" for i in range(5)]
    assert stats.elapsed_s == pytest.approx(0.2)  # paced: the 5th request left at 4 / 20 s


def test_slow_calls_are_cut_off_by_time(clock: FakeClock) -> None:
    """Calls of 50 ms at a planned 100/s for 0.3 s cannot all be sent: the time bound stops it."""
    router = FakeRouter(delay_s=0.05, clock=clock)
    stats = replay("var_engine", router, rate_per_s=100, duration_s=0.3, requests=requests(100))
    assert stats.stopped is StopReason.TIME
    assert 0 < stats.sent < stats.planned
    assert stats.sent == 7  # sent at 0, 0.05, ..., 0.30 s; the next would leave after the 0.31 s bound


def test_caller_errors_are_counted_not_raised() -> None:
    """Exceptions that reach the caller (legacy's own) are counted, the first one named."""
    stats = replay(
        "var_engine", FakeRouter(fail_every=3), rate_per_s=1000, duration_s=10, requests=requests(10)
    )
    assert (stats.sent, stats.caller_errors) == (10, 3)
    assert stats.first_error is not None
    assert stats.first_error.startswith("ValueError")


def test_routers_take_requests_in_turn() -> None:
    """Several routers of one component share the requests round-robin."""
    first, second = FakeRouter(), FakeRouter()
    replay("var_engine", [first, second], rate_per_s=1000, duration_s=10, requests=requests(4))
    assert (first.keys, second.keys) == (["book-0", "book-2"], ["book-1", "book-3"])


def test_exhausted_source_stops_early() -> None:
    """A request source shorter than planned ends the replay with 'exhausted'."""
    stats = replay("var_engine", FakeRouter(), rate_per_s=1000, duration_s=1.0, requests=requests(3))
    assert (stats.sent, stats.stopped) == (3, StopReason.EXHAUSTED)


def test_stop_event_ends_a_background_replay() -> None:
    """stop() ends a long background replay early, and its result says it was stopped."""
    router = FakeRouter()
    background = BackgroundReplay(
        "var_engine", router, rate_per_s=50, duration_s=60, requests=requests(10_000)
    )
    deadline = time.monotonic() + 10
    while not router.keys and time.monotonic() < deadline:
        time.sleep(0.01)
    background.stop()
    stats = background.result(timeout_s=10)
    assert stats.stopped is StopReason.STOPPED
    assert stats.sent < stats.planned


def test_set_stop_event_sends_nothing() -> None:
    """A stop event already set sends no request."""
    stop = threading.Event()
    stop.set()
    stats = replay(
        "var_engine", FakeRouter(), rate_per_s=10, duration_s=1, stop_event=stop, requests=requests(5)
    )
    assert (stats.sent, stats.stopped) == (0, StopReason.STOPPED)


@pytest.mark.parametrize(
    ("rate", "seconds"), [(0, 1), (-5, 1), (float("nan"), 1), (10, 0), (10, float("inf"))]
)
def test_bad_rate_or_duration_is_refused(rate: float, seconds: float) -> None:
    """A rate or duration that is not a positive finite number is refused with the value named."""
    with pytest.raises(BadParameter, match="must be"):
        replay("var_engine", FakeRouter(), rate_per_s=rate, duration_s=seconds, requests=requests(1))


def test_unknown_component_and_missing_router_are_refused() -> None:
    """An unknown component or an empty router list fails before anything is sent."""
    with pytest.raises(UnknownComponent):
        replay("risk_thing", FakeRouter(), rate_per_s=1, duration_s=1, requests=requests(1))
    with pytest.raises(BadParameter, match="router"):
        replay("var_engine", [], rate_per_s=1, duration_s=1, requests=requests(1))
