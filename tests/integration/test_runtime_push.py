"""Routers refresh on the store's change signal (LISTEN/NOTIFY on PostgreSQL, a file watch on SQLite),
not only at their poll: with a one-hour poll they still follow a rollback."""

from __future__ import annotations

import time
from collections.abc import Callable

from runbook.control import ProductionSafetyManager, Store
from runbook.domain.modes import Mode
from runbook.runtime import Router, routing_point

COMPONENT = "var_engine"
HOUR = 3600.0
KEY = next(k for k in (f"book-{i}" for i in range(1000)) if routing_point(COMPONENT, k) < 0.5)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.005)
    return predicate()


def test_routers_follow_changes_without_polling(database_url: str) -> None:
    """A router polling once an hour sees canary, then the rollback, from the push alone."""
    with Store.from_url(database_url) as writer, Store.from_url(database_url, upgrade=False) as source:
        manager = ProductionSafetyManager(writer, actor="push-test")
        router = Router(COMPONENT, legacy=lambda: "legacy", candidate=lambda: "candidate",
                        state_source=source, refresh_interval_s=HOUR)  # fmt: skip
        try:
            assert router.serving_mode is Mode.LEGACY
            manager.enable_shadow_mode(COMPONENT)
            manager.enable_canary_deployment(COMPONENT, 50)
            assert wait_until(lambda: router.serving_mode is Mode.CANARY)
            router.call(routing_key=KEY)  # the first answer is legacy's: it learns the kind of answer
            assert router.call(routing_key=KEY) == "candidate"
            manager.rollback_component(COMPONENT, reason="push")
            assert wait_until(lambda: router.serving_mode is Mode.ROLLED_BACK)
            assert router.call(routing_key=KEY) == "legacy"
        finally:
            router.close()


def test_unsubscribed_after_close(database_url: str) -> None:
    """A closed router no longer reads the store when the state changes."""
    with Store.from_url(database_url) as writer, Store.from_url(database_url, upgrade=False) as source:
        router = Router(COMPONENT, legacy=lambda: 1, candidate=lambda: 2, state_source=source,
                        refresh_interval_s=HOUR)  # fmt: skip
        router.close()
        reads = router.stats()["state_refreshes"]
        ProductionSafetyManager(writer, actor="push-test").enable_shadow_mode(COMPONENT)
        calls: list[int] = []
        source.subscribe(lambda: calls.append(1))  # a live subscriber proves the signal fired
        ProductionSafetyManager(writer, actor="push-test").rollback_component(COMPONENT, reason="x")
        assert wait_until(lambda: bool(calls))
        assert router.stats()["state_refreshes"] == reads
