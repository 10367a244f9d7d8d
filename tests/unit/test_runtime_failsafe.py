"""Fail safe: a store that stops answering sends calls to legacy once the cached state is too old."""

from __future__ import annotations

import threading
import time

import pytest

from runbook.domain.modes import Mode
from runbook.errors import BadParameter, UnknownComponent
from runbook.runtime import InMemoryStateSource, Router

COMPONENT = "correlation_analyzer"
NEVER = 3600.0


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def legacy(x: float) -> str:
    return "legacy"


def candidate(x: float) -> str:
    return "candidate"


def make(source, clock, **options) -> Router:
    options = {"refresh_interval_s": NEVER, "max_staleness_s": 5.0, "clock": clock, **options}
    return Router(COMPONENT, legacy=legacy, candidate=candidate, state_source=source, **options)


def test_stale_state_serves_legacy_until_the_store_answers_again():
    """Within the staleness bound the last state holds; past it legacy answers; a good read restores."""
    source, clock = InMemoryStateSource(), FakeClock()
    source.set_mode(COMPONENT, Mode.FULL)
    with make(source, clock) as router:
        assert router.call(1.0, routing_key="k") == "legacy"  # the first call teaches legacy's answer
        source.available = False
        clock.now += 4.0
        assert not router.refresh()
        assert router.call(1.0, routing_key="k") == "candidate"  # last state, 4 s old
        clock.now += 2.0
        assert router.serving_mode is Mode.LEGACY
        assert router.call(1.0, routing_key="k") == "legacy"
        assert router.stats()["failsafe_legacy"] == 1
        assert router.stats()["state_refresh_errors"] == 1
        source.available = True
        assert router.refresh()
        assert router.call(1.0, routing_key="k") == "candidate"


def test_router_started_with_the_store_down_serves_legacy():
    """A router whose first read fails serves legacy, without raising."""
    source = InMemoryStateSource()
    source.set_mode(COMPONENT, Mode.FULL)
    source.available = False
    with make(source, FakeClock()) as router:
        assert router.call(1.0, routing_key="k") == "legacy"
        assert router.epoch == -1


async def test_async_calls_fail_safe_too():
    """acall follows the same fail-safe rule."""
    source, clock = InMemoryStateSource(), FakeClock()
    source.set_mode(COMPONENT, Mode.FULL)
    with make(source, clock) as router:
        source.available = False
        clock.now += 6.0
        assert await router.acall(1.0, routing_key="k") == "legacy"


def test_hanging_store_never_blocks_the_caller():
    """A store whose read hangs holds only the poller; callers are served and fail safe in time."""
    entered, release = threading.Event(), threading.Event()

    class HangingSource(InMemoryStateSource):
        hang = False

        def _maybe_hang(self):
            if self.hang:
                entered.set()
                release.wait()

        def epoch_signature(self):
            self._maybe_hang()
            return super().epoch_signature()

        def states(self):
            self._maybe_hang()
            return super().states()

    source, clock = HangingSource(), FakeClock()
    source.set_mode(COMPONENT, Mode.FULL)
    router = make(source, clock, refresh_interval_s=0.005)
    try:
        assert router.call(1.0, routing_key="k") == "legacy"  # the first call teaches legacy's answer
        source.hang = True
        assert entered.wait(10)  # the poller is stuck in states()
        assert router.call(1.0, routing_key="k") == "candidate"
        clock.now += 6.0
        assert router.call(1.0, routing_key="k") == "legacy"
    finally:
        release.set()
        router.close()


def test_background_poller_keeps_retrying_a_down_store():
    """The poller counts each failed read and keeps trying."""
    source = InMemoryStateSource()
    source.available = False
    with make(source, time.monotonic, refresh_interval_s=0.005) as router:
        deadline = time.monotonic() + 10
        while router.stats()["state_refresh_errors"] < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert router.stats()["state_refresh_errors"] >= 3


def test_epoch_signature_avoids_rereading_states():
    """When the epochs did not move, the poller does not read the states again."""
    source = InMemoryStateSource()
    with make(source, FakeClock()) as router:
        reads = source.reads
        assert router.refresh()
        assert source.reads == reads
        source.set_mode(COMPONENT, Mode.SHADOW)
        assert router.refresh()
        assert source.reads == reads + 1
        assert router.serving_mode is Mode.SHADOW


def test_closed_router_serves_legacy():
    """After close(), calls are still answered, by legacy."""
    source = InMemoryStateSource()
    source.set_mode(COMPONENT, Mode.FULL)
    router = make(source, FakeClock())
    router.close()
    assert router.call(1.0, routing_key="k") == "legacy"


@pytest.mark.parametrize(
    "options",
    [{"shadow_timeout_s": 0}, {"shadow_workers": 0}, {"shadow_queue": 0}, {"refresh_interval_s": -1},
     {"max_staleness_s": 0}],
)  # fmt: skip
def test_bad_options_are_refused_with_the_value(options):
    """Out-of-range options raise BadParameter naming the value."""
    with pytest.raises(BadParameter, match=repr(next(iter(options.values())))):
        make(InMemoryStateSource(), FakeClock(), **options)


def test_unknown_component_is_refused():
    """A component outside the catalog raises UnknownComponent at construction."""
    with pytest.raises(UnknownComponent, match="pricing"):
        Router("pricing", legacy=legacy, candidate=candidate, state_source=InMemoryStateSource())
