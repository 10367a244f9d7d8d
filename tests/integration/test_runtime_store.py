"""Routers on control's real store, SQLite and PostgreSQL: modes set by the ProductionSafetyManager."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from runbook.control import ObservationStore, ProductionSafetyManager, Store
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime import ObservationRecorder, Router, connect, routing_point

COMPONENT = "var_engine"
NEVER = 3600.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def legacy(x: float) -> float:
    return 2.0 * x


def candidate(x: float) -> float:
    return 2.0 * x if x >= 0 else math.nan


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def wired(database_url: str) -> Iterator[tuple[Store, ObservationStore, ProductionSafetyManager]]:
    store, sink = connect(database_url)
    yield store, sink, ProductionSafetyManager(store, actor="runtime-test")
    store.dispose()


def test_router_follows_the_safety_manager_and_records_to_the_store(wired):
    """shadow, canary and rollback set through the manager are applied; observations land in the table."""
    store, sink, manager = wired
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    with Router(COMPONENT, legacy=legacy, candidate=candidate, state_source=store, recorder=recorder,
                refresh_interval_s=NEVER) as router:  # fmt: skip
        manager.enable_shadow_mode(COMPONENT, reason="test")
        assert router.refresh()
        assert [router.call(x, routing_key="book-1") for x in (1.0, -1.0)] == [2.0, -2.0]
        manager.enable_canary_deployment(COMPONENT, 50, reason="test")
        assert router.refresh()
        keys = [f"book-{i}" for i in range(20)]
        for key in keys:
            router.call(3.0, routing_key=key)
        manager.rollback_component(COMPONENT, reason="test")
        assert router.refresh()
        assert router.serving_mode is Mode.ROLLED_BACK
        assert router.flush()
    recorder.close()
    shadow = sink.window(COMPONENT, since=0, mode="shadow")
    assert [o.error_kind for o in shadow] == [ErrorKind.NONE, ErrorKind.INVALID_RESULT]
    assert (shadow[0].abs_difference, shadow[0].epoch) == (0.0, 1)
    assert shadow[0].legacy_digest == shadow[0].candidate_digest
    canary = sink.window(COMPONENT, since=0, mode="canary")
    expected = [Route.CANDIDATE if routing_point(COMPONENT, k) < 0.5 else Route.LEGACY for k in keys]
    assert sorted(o.route for o in canary) == sorted(expected)
    assert sink.count(COMPONENT) == 22


def test_background_poll_applies_a_rollback(wired):
    """A rollback written by the manager reaches a polling router without any call to refresh()."""
    store, _sink, manager = wired
    manager.enable_shadow_mode(COMPONENT)
    manager.enable_canary_deployment(COMPONENT, 99)
    with Router(COMPONENT, legacy=legacy, candidate=candidate, state_source=store,
                refresh_interval_s=0.02) as router:  # fmt: skip
        assert router.serving_mode is Mode.CANARY
        manager.rollback_component(COMPONENT, reason="paged")
        assert wait_until(lambda: router.serving_mode is Mode.ROLLED_BACK)


def test_store_that_stops_answering_fails_safe_to_legacy(wired):
    """With the state table gone the cached state holds up to the bound, then legacy; back when it returns."""
    store, _sink, manager = wired
    manager.enable_shadow_mode(COMPONENT)
    manager.enable_canary_deployment(COMPONENT, 99)
    clock = FakeClock()
    key = next(k for k in (f"book-{i}" for i in range(100)) if routing_point(COMPONENT, k) < 0.99)
    with Router(COMPONENT, legacy=lambda x: "legacy", candidate=lambda x: "candidate", state_source=store,
                refresh_interval_s=NEVER, max_staleness_s=5.0, clock=clock) as router:  # fmt: skip
        assert router.call(1.0, routing_key=key) == "legacy"  # the first call teaches legacy's answer
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE component_state RENAME TO component_state_away"))
        clock.now += 4.0
        assert not router.refresh()
        assert router.call(1.0, routing_key=key) == "candidate"
        clock.now += 2.0
        assert router.call(1.0, routing_key=key) == "legacy"
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE component_state_away RENAME TO component_state"))
        assert router.refresh()
        assert router.call(1.0, routing_key=key) == "candidate"
        assert router.stats()["failsafe_legacy"] == 1


@pytest.mark.postgres
def test_unreachable_postgres_serves_legacy():
    """A router whose PostgreSQL server refuses connections serves legacy and counts the failed reads."""
    store = Store.from_url("postgresql+psycopg://postgres@127.0.0.1:9/none", upgrade=False)
    with Router(COMPONENT, legacy=lambda x: "legacy", candidate=lambda x: "candidate", state_source=store,
                refresh_interval_s=NEVER) as router:  # fmt: skip
        assert router.call(1.0, routing_key="k") == "legacy"
        assert router.stats()["state_refresh_errors"] == 1
    store.dispose()
