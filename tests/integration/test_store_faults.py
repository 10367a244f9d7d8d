"""A store that is gone is gone: deleted, replaced and corrupted SQLite files, a PostgreSQL cut off
or black-holed behind a TCP proxy. Routers fail safe within the staleness bound and recover without a
restart; rollback never claims "verified" for a store routers do not read and fails within its
deadline; the recorder keeps observations through a short outage and counts whatever it drops."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from runbook.cli import main
from runbook.control import ObservationStore, ProductionSafetyManager, Store
from runbook.domain.modes import Mode
from runbook.domain.observation import Observation, Route
from runbook.errors import StoreMissing, StoreUnavailable
from runbook.runtime import ObservationRecorder, Router, routing_point

COMPONENT = "var_engine"
STALENESS_S = 5.0
NEVER = 3600.0
# A key that a 50% canary sends to the candidate.
CANARY_KEY = next(k for k in (f"book-{i}" for i in range(1000)) if routing_point(COMPONENT, k) < 0.5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.01)
    return predicate()


def in_canary(url: str) -> None:
    with Store.from_url(url) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        manager.enable_shadow_mode(COMPONENT)
        manager.enable_canary_deployment(COMPONENT, 50)


def copy_store(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite store (WAL included), through SQLite's own backup."""
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)
    source.close()
    target.close()


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def sqlite_canary(tmp_path: Path) -> Iterator[tuple[str, Path, Path, FakeClock, Router]]:
    """A SQLite store in canary 50%, a backup copy, and a router on a fake clock that polls only on demand."""
    path = tmp_path / "runbook.db"
    url = f"sqlite:///{path}"
    in_canary(url)
    backup = tmp_path / "backup.db"
    copy_store(path, backup)
    clock = FakeClock()
    source = Store.from_url(url, upgrade=False)
    router = Router(COMPONENT, legacy=lambda: "legacy", candidate=lambda: "candidate", state_source=source,
                    refresh_interval_s=NEVER, max_staleness_s=STALENESS_S, clock=clock)  # fmt: skip
    router.call(routing_key=CANARY_KEY)  # the first answer is legacy's: it learns the kind of answer
    assert router.call(routing_key=CANARY_KEY) == "candidate"
    yield url, path, backup, clock, router
    router.close()
    source.dispose()


def rollback(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", url)
    monkeypatch.setenv("RUNBOOK_STORE_TIMEOUT_S", "0.5")
    monkeypatch.setenv("RUNBOOK_ROLLBACK_DEADLINE_S", "0.5")  # one attempt: keeps the test short
    code = main(["rollback", COMPONENT, "--reason", "page"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_deleted_sqlite_store_fails_safe_refuses_verified_and_recovers(
    sqlite_canary: tuple[str, Path, Path, FakeClock, Router],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Deleted file: legacy past the bound; rollback exits 1 and re-creates nothing; a restore heals."""
    url, path, backup, clock, router = sqlite_canary
    remove_store(path)
    assert router.refresh() is False
    clock.now += STALENESS_S - 0.1
    assert router.call(routing_key=CANARY_KEY) == "candidate"  # still within the bound
    clock.now += 0.2
    assert router.call(routing_key=CANARY_KEY) == "legacy"
    assert router.stats()["failsafe_legacy"] == 1

    code, output = rollback(url, monkeypatch, capsys)
    assert code == 1
    assert "NOT DONE" in output
    assert "does not exist" in output
    assert "verified" not in output
    assert not path.exists()  # never silently re-created as an empty store

    copy_store(backup, path)
    assert router.refresh() is True
    assert router.call(routing_key=CANARY_KEY) == "candidate"


def test_store_replaced_by_garbage_fails_safe_and_recovers_when_renamed_back(
    sqlite_canary: tuple[str, Path, Path, FakeClock, Router],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A file renamed over the store that is no database: legacy past the bound; rollback exits 1."""
    url, path, backup, clock, router = sqlite_canary
    junk = path.with_name("junk.db")
    junk.write_bytes(b"not a database, just bytes " * 200)
    remove_store(path)
    os.replace(junk, path)
    assert router.refresh() is False
    clock.now += STALENESS_S + 0.1
    assert router.call(routing_key=CANARY_KEY) == "legacy"

    code, output = rollback(url, monkeypatch, capsys)
    assert code == 1
    assert "NOT DONE" in output
    assert "verified" not in output

    restored = path.with_name("restored.db")
    copy_store(backup, restored)
    os.replace(restored, path)
    assert router.refresh() is True
    assert router.call(routing_key=CANARY_KEY) == "candidate"


def test_after_a_rename_over_the_verified_rollback_is_what_routers_serve(
    sqlite_canary: tuple[str, Path, Path, FakeClock, Router],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another store renamed over the path: routers drop the old file, so "verified" holds for them too."""
    url, path, backup, _clock, router = sqlite_canary
    other = path.with_name("other.db")
    copy_store(backup, other)
    os.replace(other, path)  # routers' pooled connections still point at the unlinked file
    code, output = rollback(url, monkeypatch, capsys)
    assert code == 0, output
    assert "verified: var_engine=rolled_back@epoch3" in output
    assert router.refresh() is True
    assert router.serving_mode is Mode.ROLLED_BACK
    assert router.call(routing_key=CANARY_KEY) == "legacy"


def test_corrupted_store_fails_and_pooled_connections_recover_once_restored(
    sqlite_canary: tuple[str, Path, Path, FakeClock, Router],
) -> None:
    """Bytes overwritten in place: reads fail; after the bytes are put back, the same router reads again."""
    _url, path, _backup, clock, router = sqlite_canary
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    good = path.read_bytes()
    with path.open("r+b") as handle:  # same inode: only the content changes
        handle.write(b"\x00garbage" * (len(good) // 8))
    assert router.refresh() is False
    clock.now += STALENESS_S + 0.1
    assert router.call(routing_key=CANARY_KEY) == "legacy"
    with path.open("r+b") as handle:
        handle.write(good)
    assert router.refresh() is True
    assert router.call(routing_key=CANARY_KEY) == "candidate"


def test_a_store_opened_for_reading_never_creates_a_missing_file(tmp_path: Path) -> None:
    """Store.from_url(upgrade=False) on a missing file raises StoreMissing and leaves no file behind."""
    path = tmp_path / "absent.db"
    with Store.from_url(f"sqlite:///{path}", upgrade=False) as store, pytest.raises(StoreMissing):
        store.states()
    assert not path.exists()


# ---- PostgreSQL behind a proxy -----------------------------------------------------------------
@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """(URL through a proxy the test controls, proxy) on the test's PostgreSQL database."""
    real = make_url(postgres_url)
    Store.from_url(postgres_url).dispose()
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield url, proxy


def observation(i: int) -> Observation:
    return Observation(component=COMPONENT, mode="shadow", route=Route.LEGACY, routing_key=f"book-{i}",
                       at=float(i), legacy_latency_us=10.0, candidate_latency_us=12.0)  # fmt: skip


def stored_rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(text("observations"))).scalar_one())
    engine.dispose()
    return count


@pytest.mark.postgres
def test_rollback_against_a_black_holed_postgres_fails_with_a_clear_message(
    postgres_url: str,
    proxied: tuple[str, TcpProxy],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that accepts TCP and never answers: rollback exits 1 naming the timeout, nothing hangs."""
    url, proxy = proxied
    in_canary(postgres_url)
    proxy.blackhole()
    code, output = rollback(url, monkeypatch, capsys)
    assert code == 1
    assert "rollback of var_engine NOT DONE" in output
    assert "timeout" in output.lower()
    proxy.restore()
    code, output = rollback(url, monkeypatch, capsys)
    assert code == 0, output
    assert "verified: var_engine=rolled_back@epoch3" in output


@pytest.mark.postgres
def test_a_query_on_an_open_connection_is_cut_at_the_store_timeout(proxied: tuple[str, TcpProxy]) -> None:
    """Connected first, then black-holed: the pending read fails with "did not answer", then recovers."""
    url, proxy = proxied
    with Store.from_url(url, upgrade=False, timeout_s=0.3) as store:
        assert store.state(COMPONENT).mode is Mode.LEGACY  # the pool now holds a live connection
        proxy.blackhole()
        with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.3 s"):
            store.states()
        proxy.restore()
        assert store.state(COMPONENT).mode is Mode.LEGACY


@pytest.mark.postgres
def test_the_recorder_keeps_every_observation_through_a_cut_and_a_black_hole(
    postgres_url: str, proxied: tuple[str, TcpProxy]
) -> None:
    """Observations recorded during a cut and a black hole are all written once the network is back."""
    url, proxy = proxied
    with Store.from_url(url, upgrade=False, timeout_s=0.3) as store:
        recorder = ObservationRecorder(ObservationStore(store), batch_size=50, flush_interval_s=0.01)
        for i in range(100):
            recorder.record(observation(i))
        assert recorder.flush()
        proxy.cut()
        for i in range(100, 300):
            recorder.record(observation(i))
        assert wait_until(lambda: recorder.stats()["write_errors"] >= 2)
        proxy.blackhole()
        errors = recorder.stats()["write_errors"]
        assert wait_until(lambda: recorder.stats()["write_errors"] > errors)
        proxy.restore()
        assert recorder.flush(timeout_s=60)
        stats = recorder.stats()
        recorder.close()
    assert (stats["written"], stats["dropped"], stats["lost"]) == (300, 0, 0)
    assert stored_rows(postgres_url) == 300


@pytest.mark.postgres
def test_the_recorder_counts_what_it_cannot_keep(postgres_url: str, proxied: tuple[str, TcpProxy]) -> None:
    """A queue too small for the outage drops and counts; written + dropped + lost = offered, as stored."""
    url, proxy = proxied
    with Store.from_url(url, upgrade=False, timeout_s=0.3) as store:
        recorder = ObservationRecorder(ObservationStore(store), queue_size=50, batch_size=10,
                                       flush_interval_s=0.01)  # fmt: skip
        proxy.cut()
        accepted = [recorder.record(observation(i)) for i in range(500)]
        assert wait_until(lambda: recorder.stats()["write_errors"] >= 1)
        proxy.restore()
        assert recorder.flush(timeout_s=60)
        recorder.close()
        stats = recorder.stats()
    assert stats["dropped"] == accepted.count(False) > 0
    assert stats["written"] + stats["dropped"] + stats["lost"] == 500
    assert stored_rows(postgres_url) == stats["written"]


@pytest.mark.postgres
def test_an_over_long_actor_never_breaks_a_postgres_rollback(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--actor over 128 characters: rollback is done, the actor is recorded truncated, and it says so."""
    in_canary(postgres_url)
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", postgres_url)
    assert main(["rollback", COMPONENT, "--reason", "page", "--actor", "x" * 300]) == 0
    output = capsys.readouterr().out
    assert "actor truncated from 300 to 128 characters" in output
    with Store.from_url(postgres_url) as store:
        state = store.state(COMPONENT)
    assert (state.mode, state.updated_by) == (Mode.ROLLED_BACK, "x" * 128)


def test_emergency_script_against_a_store_that_never_answers_exits_1() -> None:
    """The emergency script on a black-holed store: exit 1 with the command's reason, after its deadline."""
    with TcpProxy("127.0.0.1", 9) as proxy:  # nothing needs to listen behind a black hole
        proxy.blackhole()
        script = Path(__file__).parents[2] / "scripts" / "emergency_rollback.sh"
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RUNBOOK_")}
        env.update(RUNBOOK_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{proxy.port}/test",
                   RUNBOOK_STORE_TIMEOUT_S="0.5", RUNBOOK_ROLLBACK_DEADLINE_S="0.5")  # fmt: skip
        done = subprocess.run([str(script), COMPONENT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "NOT DONE" in done.stderr
    assert "not recorded" in done.stderr
