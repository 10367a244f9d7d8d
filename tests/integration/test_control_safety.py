"""ProductionSafetyManager on SQLite and PostgreSQL: the state machine, audit rows, races, rollback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.domain.state import ComponentState
from runbook.errors import (
    ConcurrentModification,
    InvalidTrafficFraction,
    InvalidTransition,
    UnknownComponent,
)

# DESIGN.md section 4, written out independently of runbook.domain.modes:
# legacy -> shadow -> canary(f) -> full -> retired; canary -> canary; rolled_back -> shadow.
ALLOWED = {
    "legacy": {"shadow"},
    "shadow": {"canary"},
    "canary": {"canary", "promote"},
    "full": {"retire"},
    "retired": set(),
    "rolled_back": {"shadow"},
}
SETUP: dict[str, list[str]] = {
    "legacy": [],
    "shadow": ["shadow"],
    "canary": ["shadow", "canary"],
    "full": ["shadow", "canary", "promote"],
    "retired": ["shadow", "canary", "promote", "retire"],
    "rolled_back": ["shadow", "rollback"],
}
TARGET = {"shadow": Mode.SHADOW, "canary": Mode.CANARY, "promote": Mode.FULL, "retire": Mode.RETIRED}
FRACTION = {"shadow": 0.0, "canary": 0.25, "promote": 1.0, "retire": 1.0}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()


def act(manager: ProductionSafetyManager, action: str, component: str, *, percent: float = 25):
    """Apply one named move (canary steps at ``percent``); rollbacks give a reason."""
    if action == "shadow":
        return manager.enable_shadow_mode(component)
    if action == "canary":
        return manager.enable_canary_deployment(component, percent)
    if action == "promote":
        return manager.promote(component)
    if action == "retire":
        return manager.retire(component)
    return manager.rollback_component(component, reason="test")


@pytest.mark.parametrize("start", list(SETUP))
def test_every_move_from_each_mode(store: Store, start: str) -> None:
    """From each mode, allowed moves succeed with the right fraction and epoch; refused ones write
    nothing; rollback is a no-op from legacy/rolled_back and a clear error from retired."""
    manager = ProductionSafetyManager(store, actor="alice")
    log = AuditLog(store)
    for action, component in zip(
        ["shadow", "canary", "promote", "retire", "rollback"], Component, strict=True
    ):
        for step in SETUP[start]:
            act(manager, step, component, percent=10)
        before, rows_before = store.state(component), len(log.entries())
        assert before.mode.value == start
        if action == "rollback":
            _check_rollback(manager, store, log, component, before, rows_before)
        elif action in ALLOWED[start]:
            after = act(manager, action, component)
            assert (after.mode, after.traffic_fraction) == (TARGET[action], FRACTION[action])
            assert after.epoch == before.epoch + 1
            assert store.state(component) == after
            assert len(log.entries()) == rows_before + 1
        else:
            with pytest.raises(InvalidTransition, match=f"in mode '{start}'"):
                act(manager, action, component)
            assert store.state(component) == before
            assert len(log.entries()) == rows_before


def _check_rollback(manager, store, log, component, before, rows_before) -> None:
    if before.mode is Mode.RETIRED:
        with pytest.raises(InvalidTransition, match=r"retired.*nothing to roll back"):
            manager.rollback_component(component, reason="page")
        assert store.state(component) == before
        assert len(log.entries()) == rows_before
        return
    after = manager.rollback_component(component, reason="page")
    entry = log.entries()[-1]
    if before.mode in (Mode.LEGACY, Mode.ROLLED_BACK):
        assert after == before
        assert entry.action == "rollback_noop"
    else:
        assert (after.mode, after.traffic_fraction, after.epoch) == (Mode.ROLLED_BACK, 0.0, before.epoch + 1)
        assert entry.action == "rollback"
    assert len(log.entries()) == rows_before + 1


def test_change_writes_state_and_matching_audit_row(store: Store) -> None:
    """A canary step stores actor, reason and fraction, and its audit row carries the same facts."""
    manager = ProductionSafetyManager(store, actor="alice")
    manager.enable_shadow_mode("var_engine", reason="phase 1")
    state = manager.enable_canary_deployment("var_engine", 5, reason="week 8", evidence={"p99_rel": 1e-7})
    assert (state.mode, state.traffic_fraction, state.epoch) == (Mode.CANARY, 0.05, 2)
    assert (state.updated_by, state.reason) == ("alice", "week 8")
    entry = AuditLog(store).entries(component="var_engine")[-1]
    assert (entry.action, entry.actor, entry.reason) == ("enable_canary_deployment", "alice", "week 8")
    assert (entry.from_mode, entry.to_mode, entry.from_fraction, entry.to_fraction) == (
        "shadow",
        "canary",
        0.0,
        0.05,
    )
    assert (entry.epoch, entry.evidence) == (2, {"p99_rel": 1e-7})


@pytest.mark.parametrize("percent", [0, 100, -5, 150, float("nan"), "abc", True])
def test_canary_percent_outside_open_interval_is_refused(store: Store, percent: object) -> None:
    """Percentages outside (0, 100), NaN and non-numbers raise InvalidTrafficFraction; nothing written."""
    manager = ProductionSafetyManager(store, actor="alice")
    shadow = manager.enable_shadow_mode("var_engine")
    with pytest.raises(InvalidTrafficFraction, match="percent"):
        manager.enable_canary_deployment("var_engine", percent)  # type: ignore[arg-type]
    assert store.state("var_engine") == shadow
    assert len(AuditLog(store).entries()) == 1


def test_unknown_component_is_refused(store: Store) -> None:
    """A name outside the catalog raises UnknownComponent listing the allowed names."""
    manager = ProductionSafetyManager(store, actor="alice")
    with pytest.raises(UnknownComponent, match="allowed: market_data_provider"):
        manager.enable_shadow_mode("risk_engine")
    with pytest.raises(UnknownComponent):
        manager.rollback_component("risk_engine", reason="x")
    assert AuditLog(store).entries() == []


def test_refused_move_names_current_mode_and_allowed_moves(store: Store) -> None:
    """Promoting straight from shadow says where the component is and what it may do next."""
    manager = ProductionSafetyManager(store, actor="alice")
    manager.enable_shadow_mode("hedge_calculator")
    with pytest.raises(InvalidTransition) as caught:
        manager.promote("hedge_calculator")
    assert "'shadow'" in str(caught.value)
    assert "allowed from 'shadow': canary, rolled_back" in str(caught.value)


def test_expected_epoch_mismatch_is_a_conflict(store: Store) -> None:
    """A move based on an old epoch raises ConcurrentModification and writes nothing."""
    manager = ProductionSafetyManager(store, actor="alice")
    seen = manager.enable_shadow_mode("var_engine")
    newer = manager.enable_canary_deployment("var_engine", 5, expected_epoch=seen.epoch)
    with pytest.raises(ConcurrentModification, match="expected epoch 1, found epoch 2"):
        manager.enable_canary_deployment("var_engine", 25, expected_epoch=seen.epoch)
    assert store.state("var_engine") == newer


def test_rollback_all_rolls_back_live_components_only(store: Store) -> None:
    """rollback_all returns what it rolled back, leaves legacy/retired alone and writes a summary row."""
    manager = ProductionSafetyManager(store, actor="alice")
    manager.enable_shadow_mode("var_engine")
    for step in ("shadow", "canary", "promote"):
        act(manager, step, "hedge_calculator", percent=10)
    for step in ("shadow", "canary", "promote", "retire"):
        act(manager, step, "market_data_provider", percent=10)
    changed = manager.rollback_all(reason="incident 42")
    assert sorted(s.component for s in changed) == ["hedge_calculator", "var_engine"]
    modes = {name: s.mode for name, s in store.states().items()}
    assert modes == {
        "market_data_provider": Mode.RETIRED,
        "performance_analyzer": Mode.LEGACY,
        "correlation_analyzer": Mode.LEGACY,
        "var_engine": Mode.ROLLED_BACK,
        "hedge_calculator": Mode.ROLLED_BACK,
    }
    summary = AuditLog(store).entries()[-1]
    assert (summary.component, summary.action, summary.reason) == (
        "all_components",
        "rollback_all",
        "incident 42",
    )
    assert summary.evidence["unchanged"]["market_data_provider"] == "retired"
    assert manager.rollback_all(reason="again") == []


def _race(workers: list[Callable[[], object]]) -> list[object]:
    """Run callables at the same instant; return each one's result or exception."""
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = workers[i]()
        except Exception as exc:  # noqa: BLE001 - the thread's failure is asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_racing_managers_exactly_one_wins(database_url: str) -> None:
    """Two managers on separate connection pools moving from the same epoch: one wins, one conflicts."""
    stores = [Store.from_url(database_url), Store.from_url(database_url)]
    try:
        alice, bob = (
            ProductionSafetyManager(s, actor=a) for s, a in zip(stores, ["alice", "bob"], strict=True)
        )
        seen = alice.enable_shadow_mode("var_engine")
        for round_no in range(5):
            results = _race(
                [
                    lambda e=seen.epoch: alice.enable_canary_deployment("var_engine", 10, expected_epoch=e),
                    lambda e=seen.epoch: bob.enable_canary_deployment("var_engine", 20, expected_epoch=e),
                ]
            )
            wins = [r for r in results if not isinstance(r, Exception)]
            assert len(wins) == 1, results
            assert sum(isinstance(r, ConcurrentModification) for r in results) == 1, results
            seen = stores[0].state("var_engine")
            assert seen == wins[0]
            assert seen.epoch == 2 + round_no
        assert AuditLog(stores[0]).verify() == 6
    finally:
        for s in stores:
            s.dispose()


def test_rollback_racing_a_canary_step_always_ends_rolled_back(database_url: str) -> None:
    """Rollback never loses a race: whatever the order, the component ends rolled back."""
    stores = [Store.from_url(database_url), Store.from_url(database_url)]
    try:
        flows, pager = (
            ProductionSafetyManager(s, actor=a) for s, a in zip(stores, ["flow", "pager"], strict=True)
        )
        for _ in range(3):
            seen = flows.enable_shadow_mode("var_engine")
            results = _race(
                [
                    lambda e=seen.epoch: flows.enable_canary_deployment("var_engine", 50, expected_epoch=e),
                    lambda: pager.rollback_component("var_engine", reason="page"),
                ]
            )
            assert not isinstance(results[1], Exception), results
            assert isinstance(results[0], ComponentState | ConcurrentModification), results
            assert stores[1].state("var_engine").mode is Mode.ROLLED_BACK
        assert AuditLog(stores[0]).verify() >= 6
    finally:
        for s in stores:
            s.dispose()
