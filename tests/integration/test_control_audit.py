"""The audit log's hash chain on SQLite and PostgreSQL: links, tamper detection, concurrent appends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.control.audit import GENESIS_HASH, row_digest
from runbook.errors import AuditChainBroken


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()


def _history(store: Store) -> AuditLog:
    """Five audit rows: four state changes and one gate decision."""
    manager = ProductionSafetyManager(store, actor="alice")
    manager.enable_shadow_mode("var_engine", reason="phase 1")
    manager.enable_canary_deployment("var_engine", 5, reason="week 8")
    log = AuditLog(store)
    log.append(
        component="var_engine", action="gate_approved", actor="bob", reason="ok", evidence={"n": 10_000}
    )
    manager.enable_canary_deployment("var_engine", 25, reason="week 9")
    manager.rollback_component("var_engine", reason="latency")
    return log


def test_rows_chain_to_the_row_before(store: Store) -> None:
    """Each row's prev_hash is the previous row's row_hash (zeros first) and its hash recomputes."""
    log = _history(store)
    entries = log.entries()
    assert [e.action for e in entries] == [
        "enable_shadow_mode",
        "enable_canary_deployment",
        "gate_approved",
        "enable_canary_deployment",
        "rollback",
    ]
    previous = GENESIS_HASH
    for entry in entries:
        assert entry.prev_hash == previous
        fields = {
            "at": entry.at,
            "component": entry.component,
            "action": entry.action,
            "actor": entry.actor,
            "from_mode": entry.from_mode,
            "to_mode": entry.to_mode,
            "from_fraction": entry.from_fraction,
            "to_fraction": entry.to_fraction,
            "epoch": entry.epoch,
            "reason": entry.reason,
            "evidence": _raw_evidence(store, entry.id),
        }
        assert row_digest(fields, previous) == entry.row_hash
        previous = entry.row_hash
    assert log.verify() == 5
    assert log.head() == previous


def _raw_evidence(store: Store, row_id: int) -> str:
    with store.engine.connect() as conn:
        return conn.execute(
            text("SELECT evidence FROM audit_log WHERE id = :id"), {"id": row_id}
        ).scalar_one()


def test_edited_row_is_named(store: Store) -> None:
    """Changing a reason with raw SQL makes verify raise AuditChainBroken naming that row."""
    log = _history(store)
    third = log.entries()[2].id
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE id = :id"), {"id": third})
    with pytest.raises(AuditChainBroken, match=f"row {third}: its content does not match") as caught:
        log.verify()
    assert caught.value.row_id == third


def test_edited_and_rehashed_row_breaks_the_next_link(store: Store) -> None:
    """Re-hashing an edited row does not help: the next row's prev_hash no longer matches."""
    log = _history(store)
    entries = log.entries()
    target = entries[1]
    forged = {
        "at": target.at,
        "component": target.component,
        "action": target.action,
        "actor": "mallory",
        "from_mode": target.from_mode,
        "to_mode": target.to_mode,
        "from_fraction": target.from_fraction,
        "to_fraction": target.to_fraction,
        "epoch": target.epoch,
        "reason": target.reason,
        "evidence": _raw_evidence(store, target.id),
    }
    new_hash = row_digest(forged, target.prev_hash)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'mallory', row_hash = :h WHERE id = :id"),
            {"h": new_hash, "id": target.id},
        )
    with pytest.raises(
        AuditChainBroken, match=f"row {entries[2].id}: its prev_hash does not match row {target.id}"
    ):
        log.verify()


def test_deleted_row_is_detected_at_the_next_row(store: Store) -> None:
    """Deleting a middle row makes verify name the row after the gap."""
    log = _history(store)
    entries = log.entries()
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entries[3].id})
    with pytest.raises(AuditChainBroken) as caught:
        log.verify()
    assert caught.value.row_id == entries[4].id
    assert f"row {entries[2].id}" in str(caught.value)


def test_concurrent_appends_never_fork_the_chain(database_url: str) -> None:
    """Appends from four threads on separate pools form one unbroken chain with no shared parent."""
    stores = [Store.from_url(database_url) for _ in range(4)]
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def append_many(store: Store, worker: int) -> None:
        log = AuditLog(store)
        barrier.wait()
        try:
            for i in range(10):
                log.append(
                    component="var_engine", action="monitor_verdict", actor=f"w{worker}", reason=str(i)
                )
        except Exception as exc:  # noqa: BLE001 - the thread's failure is asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=append_many, args=(s, i)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        log = AuditLog(stores[0])
        assert log.verify() == 40
        parents = [e.prev_hash for e in log.entries()]
        assert len(set(parents)) == 40
    finally:
        for s in stores:
            s.dispose()


def test_entries_filter_by_component_and_keep_the_newest(store: Store) -> None:
    """entries(component, limit) returns that component's newest rows, oldest first."""
    _history(store)
    ProductionSafetyManager(store, actor="carol").enable_shadow_mode("hedge_calculator")
    log = AuditLog(store)
    assert [e.component for e in log.entries(component="hedge_calculator")] == ["hedge_calculator"]
    newest = log.entries(component="var_engine", limit=2)
    assert [e.action for e in newest] == ["enable_canary_deployment", "rollback"]
    assert newest[0].id < newest[1].id
    assert log.entries(limit=1)[0].actor == "carol"


def test_empty_log_verifies(store: Store) -> None:
    """An empty log verifies with zero rows and a genesis head."""
    log = AuditLog(store)
    assert log.verify() == 0
    assert log.head() == GENESIS_HASH
