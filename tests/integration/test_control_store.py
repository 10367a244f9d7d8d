"""Store on SQLite and PostgreSQL: schema by Alembic, first-use upgrade, reads, SQLite settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from runbook.control import ProductionSafetyManager, Store
from runbook.control.models import Base
from runbook.control.store import HEAD_REVISION
from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.errors import StoreUnavailable
from runbook.settings import Settings


def test_migration_creates_exactly_the_models(database_url: str) -> None:
    """After first use the schema is at head and Alembic finds no difference from the models."""
    with Store.from_url(database_url) as store:
        assert store.revision() == HEAD_REVISION
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_open_without_upgrade_leaves_an_empty_database(database_url: str) -> None:
    """upgrade=False does not touch the schema; upgrade() then brings it to head, twice is harmless."""
    with Store.from_url(database_url, upgrade=False, create=True) as store:
        assert store.revision() is None
        assert store.upgrade() == HEAD_REVISION
        assert store.upgrade() == HEAD_REVISION
        assert store.revision() == HEAD_REVISION


def test_untouched_components_read_as_legacy(database_url: str) -> None:
    """states() lists all five components in catalog order, legacy at epoch 0 when never changed."""
    with Store.from_url(database_url) as store:
        states = store.states()
        assert list(states) == [c.value for c in Component]
        assert all(
            s.mode is Mode.LEGACY and s.epoch == 0 and s.traffic_fraction == 0.0 for s in states.values()
        )
        assert store.epoch_signature() == (0, 0, 0, 0, 0)


def test_epoch_signature_follows_changes(database_url: str) -> None:
    """A change bumps exactly that component's entry in the epoch signature."""
    with Store.from_url(database_url) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        manager.enable_shadow_mode("var_engine")
        manager.enable_canary_deployment("var_engine", 5)
        manager.enable_shadow_mode("market_data_provider")
        assert store.epoch_signature() == (1, 0, 0, 2, 0)
        assert store.state("var_engine") == store.states()["var_engine"]


def test_concurrent_first_use_upgrades_once(database_url: str) -> None:
    """Four processes' worth of stores opening a fresh database at once all end at head."""
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        barrier.wait()
        try:
            Store.from_url(database_url).dispose()
        except Exception as exc:  # noqa: BLE001 - the thread's failure is asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with Store.from_url(database_url, upgrade=False) as store:
        assert store.revision() == HEAD_REVISION


def test_sqlite_uses_wal_and_a_busy_timeout(sqlite_url: str) -> None:
    """SQLite connections run in WAL mode with the store timeout as busy timeout."""
    with Store.from_url(sqlite_url, timeout_s=2.5) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2_500


def test_sqlite_a_bulk_write_waits_its_own_bound_then_the_store_bound_again(sqlite_url: str) -> None:
    """A write given its own bound (a schema upgrade: 120 s) waits that long for another writer's
    lock, not the store's 0.5 s (four processes upgrading a fresh file on a slow machine); the
    pooled connection gets the store's busy timeout back afterwards."""
    with Store.from_url(sqlite_url, timeout_s=0.5) as store:
        with store.write(timeout_s=120.0) as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 120_000
        with store.write() as conn:  # the same pooled connection
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 500
        assert store.upgrade() == HEAD_REVISION


def test_sqlite_only_observation_batches_commit_without_fsync(sqlite_url: str) -> None:
    """Control-plane writes commit with synchronous=FULL; observation batches (durable=False) with NORMAL."""
    with Store.from_url(sqlite_url) as store:
        with store.write(exclusive=False, durable=False) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        with store.write() as conn:  # the same pooled connection, reset per transaction
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        with store.write(exclusive=False) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_sqlite_readers_are_not_blocked_by_a_writer(sqlite_url: str) -> None:
    """While one store holds the write lock, another reads the last committed state at once."""
    with Store.from_url(sqlite_url) as writer, Store.from_url(sqlite_url) as reader:
        ProductionSafetyManager(writer, actor="alice").enable_shadow_mode("var_engine")
        with writer.write() as conn:
            conn.execute(text("UPDATE component_state SET reason = 'uncommitted'"))
            assert reader.state("var_engine").mode is Mode.SHADOW
            assert reader.state("var_engine").reason == ""


def test_plain_postgresql_url_is_accepted(postgres_url: str) -> None:
    """A postgresql:// URL is mapped to psycopg 3 and works."""
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with Store.from_url(plain) as store:
        assert store.url.startswith("postgresql+psycopg://")
        assert store.states()["var_engine"].mode is Mode.LEGACY


def test_from_settings_defaults_to_sqlite_under_home(tmp_path: Path) -> None:
    """Without a database URL the store is a SQLite file under RUNBOOK_HOME, created on first use."""
    settings = Settings(home=tmp_path / "state", database_url=None)
    with Store.from_settings(settings) as store:
        assert store.is_sqlite
        assert (tmp_path / "state" / "runbook.db").exists()


def test_unreachable_store_raises_store_unavailable() -> None:
    """A server that refuses connections gives StoreUnavailable naming the store."""
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1"):
        Store.from_url("postgresql://postgres@127.0.0.1:1/none")


def test_postgres_notifies_state_changes(postgres_url: str) -> None:
    """On PostgreSQL each committed state change is announced on the state channel as component:epoch."""
    import psycopg

    from runbook.control.store import STATE_CHANNEL

    with Store.from_url(postgres_url) as store:
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as listener:
            listener.execute(f"LISTEN {STATE_CHANNEL}")
            manager = ProductionSafetyManager(store, actor="alice")
            manager.enable_shadow_mode("var_engine")
            manager.rollback_component("var_engine", reason="test")
            payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
    assert payloads == ["var_engine:1", "var_engine:2"]
