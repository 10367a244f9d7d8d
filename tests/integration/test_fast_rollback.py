"""`runbook rollback` on the DB-API: the same rows as ProductionSafetyManager, no heavy import, and
the full path for any store it does not handle (SQLite; PostgreSQL through libpq and through psycopg)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.control.fast_rollback import fast_verified_rollback
from runbook.domain.modes import Mode
from runbook.errors import RollbackFailed, StoreUnavailable

# psycopg too: PostgreSQL goes through libpq directly wherever libpq loads (as here).
HEAVY = ("sqlalchemy", "prefect", "slack_sdk", "pandas", "numpy", "pydantic", "psycopg")
# How SQLAlchemy keeps a DateTime on SQLite: naive UTC text with microseconds.
SQLITE_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


@pytest.fixture(
    params=["sqlite", pytest.param("libpq", marks=pytest.mark.postgres),
            pytest.param("psycopg", marks=pytest.mark.postgres)]
)  # fmt: skip
def store_client(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(empty store URL, PostgreSQL client of the fast path): SQLite, PostgreSQL via libpq, via psycopg."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url"), None
    return request.getfixturevalue("postgres_url"), request.param


@pytest.fixture
def twin_urls(store_client: tuple[str, str | None]) -> Iterator[tuple[str, str]]:
    """Two empty stores on the same backend: one for each rollback path."""
    database_url = store_client[0]
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        yield database_url, database_url.replace("runbook.db", "twin.db")
        return
    name = f"runbook_twin_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield database_url, parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def history(url: str) -> None:
    """The same past on every store: var_engine in canary, hedge in shadow, market data retired."""
    with Store.from_url(url) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        manager.enable_shadow_mode("var_engine", reason="phase 1")
        manager.enable_canary_deployment("var_engine", 5, reason="phase 2")
        manager.enable_shadow_mode("hedge_calculator")
        for move in ("enable_shadow_mode", "enable_canary_deployment", "promote", "retire"):
            extra = (10,) if move == "enable_canary_deployment" else ()
            getattr(manager, move)("market_data_provider", *extra)


def rows(url: str) -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
    """States and audit entries read through the SQLAlchemy Store, and the raw stored rows."""
    with Store.from_url(url, upgrade=False) as store:
        assert AuditLog(store).verify() > 0
        states = list(store.states().values())
        entries = AuditLog(store).entries()
        with store.read() as conn:
            raw = [dict(r) for r in conn.exec_driver_sql("SELECT * FROM component_state").mappings()]
            raw += [dict(r) for r in conn.exec_driver_sql("SELECT * FROM audit_log").mappings()]
    return states, entries, raw


def without_times(states: list[Any], entries: list[Any]) -> tuple[list[Any], list[Any]]:
    """Everything but the clock's readings (and the hashes, which cover them: verify() checks those)."""
    return (
        [replace(s, updated_at=None) for s in states],
        [replace(e, at=None, prev_hash="", row_hash="") for e in entries],
    )


ROLLBACKS = [
    ("var_engine", "c" * 200, "why " * 600),  # a live component, actor and reason over their limits
    ("hedge_calculator", "pager", "page"),
    ("performance_analyzer", "pager", "page"),  # never touched: a rollback_noop row
    ("all_components", "pager", "incident"),
]


@pytest.mark.parametrize(("target", "actor", "reason"), ROLLBACKS)
def test_fast_path_writes_what_the_safety_manager_writes(
    twin_urls: tuple[str, str], store_client: tuple[str, str | None], target: str, actor: str, reason: str
) -> None:
    """The same rollback on twin stores: identical state and audit rows, a valid chain on both."""
    fast_url, manager_url = twin_urls
    for url in twin_urls:
        history(url)
    report = fast_verified_rollback(
        fast_url, target, actor=actor, reason=reason, timeout_s=5.0, deadline_s=10.0,
        postgres_client=store_client[1],
    )  # fmt: skip
    assert report.attempts == 1
    with Store.from_url(manager_url) as store:
        manager = ProductionSafetyManager(store, actor=actor)
        if target == "all_components":
            manager.rollback_all(reason=reason)
        else:
            manager.rollback_component(target, reason=reason)
    fast, managed = rows(fast_url), rows(manager_url)
    assert without_times(*fast[:2]) == without_times(*managed[:2])
    assert fast[1][-1].actor == actor[:128]
    actions = {"all_components": "rollback_all", "performance_analyzer": "rollback_noop"}
    assert fast[1][-1].action == actions.get(target, "rollback")
    # The stored rows have the same columns, kinds and (SQLite) text format on both paths.
    assert [sorted(r) for r in fast[2]] == [sorted(r) for r in managed[2]]
    for mine, theirs in zip(fast[2], managed[2], strict=True):
        assert {k: type(v) for k, v in mine.items()} == {k: type(v) for k, v in theirs.items()}
        for column in ("updated_at", "at"):
            if isinstance(mine.get(column), str):
                assert SQLITE_DATETIME.match(mine[column]), mine[column]
    changed = [s for s in fast[0] if s.mode is Mode.ROLLED_BACK]
    live = {"var_engine", "hedge_calculator"}
    assert {s.component for s in changed} == (live if target == "all_components" else {target} & live)
    # A rollback's audit row carries the very time written to the state row.
    if target in ("var_engine", "hedge_calculator"):
        state = next(s for s in fast[0] if s.component == target)
        assert fast[1][-1].at == state.updated_at


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RUNBOOK_")}
    return {**env, "RUNBOOK_DATABASE_URL": url, **extra}


def _run_cli(url: str, *argv: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    code = (
        "import sys\nfrom runbook.cli import main\n"
        f"code = main({list(argv)!r})\n"
        f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(url, **env), capture_output=True, text=True, timeout=60
    )
    loaded = done.stdout.strip().splitlines()[-1]
    return done, loaded.removeprefix("LOADED ").strip("[]").replace("'", "").split(", ")


def test_rollback_imports_no_heavy_library(database_url: str) -> None:
    """runbook rollback on a store at head loads none of SQLAlchemy, Prefect, Slack, pandas, numpy,
    pydantic or (libpq being there) psycopg, and rolls back."""
    history(database_url)
    done, loaded = _run_cli(database_url, "rollback", "var_engine", "--reason", "page")
    assert done.returncode == 0, done.stderr
    assert "var_engine: canary 5% -> rolled_back (epoch 3); all traffic on legacy" in done.stdout
    assert loaded == [""]
    with Store.from_url(database_url, upgrade=False) as store:
        assert store.state("var_engine").mode is Mode.ROLLED_BACK


def test_a_store_below_head_takes_the_full_path(tmp_path: Path) -> None:
    """An empty SQLite file (no schema): nothing written by the fast path; the full path upgrades
    it and records the rollback once."""
    path = tmp_path / "empty.db"
    path.touch()
    url = f"sqlite:///{path}"
    done, loaded = _run_cli(url, "rollback", "var_engine", "--reason", "page")
    assert done.returncode == 0, done.stderr
    assert "sqlalchemy" in loaded
    assert "var_engine: already legacy; nothing to roll back" in done.stdout
    with Store.from_url(url, upgrade=False) as store:
        assert [e.action for e in AuditLog(store).entries()] == ["rollback_noop"]


def test_a_url_form_it_does_not_parse_takes_the_full_path(tmp_path: Path) -> None:
    """A SQLite URL with query arguments is left to SQLAlchemy, which rolls back as before."""
    url = f"sqlite:///{tmp_path / 'q.db'}"
    history(url)
    done, loaded = _run_cli(f"{url}?timeout=5", "rollback", "var_engine", "--reason", "page")
    assert done.returncode == 0, done.stderr
    assert "sqlalchemy" in loaded
    assert "canary 5% -> rolled_back" in done.stdout


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _elsewhere(postgres_url: str, port: int) -> str:
    return make_url(postgres_url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def _fails_once(url: str) -> StoreUnavailable:
    """The rollback through libpq with a deadline of one attempt; the outage it ended on."""
    with pytest.raises(RollbackFailed, match=r"^rollback of var_engine NOT DONE: 1 attempt\(s\)") as failed:
        fast_verified_rollback(url, "var_engine", actor="pager", reason="page", timeout_s=0.5,
                               deadline_s=0.5, postgres_client="libpq")  # fmt: skip
    assert isinstance(failed.value.__cause__, StoreUnavailable)
    return failed.value.__cause__


@pytest.mark.postgres
def test_libpq_reports_a_refused_connection_as_the_store_unavailable(postgres_url: str) -> None:
    """Nothing listens on the port: one attempt, StoreUnavailable naming the refusal."""
    cause = _fails_once(_elsewhere(postgres_url, _closed_port()))
    assert "is unavailable" in str(cause)
    assert "refused" in str(cause)


@pytest.mark.postgres
def test_libpq_gives_up_on_a_black_holed_server_at_the_connect_timeout(postgres_url: str) -> None:
    """A server that accepts TCP and never answers: StoreUnavailable naming the timeout, no hang."""
    with TcpProxy("127.0.0.1", 9) as proxy:
        proxy.blackhole()
        cause = _fails_once(_elsewhere(postgres_url, proxy.port))
    assert "timeout expired" in str(cause)


@pytest.mark.postgres
def test_libpq_cuts_a_rollback_blocked_past_the_statement_timeout(postgres_url: str) -> None:
    """Another transaction holds the runbook write lock: the statement timeout ends the attempt."""
    history(postgres_url)
    holder = create_engine(postgres_url)
    with holder.connect() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x72756E626F6F6B})
        cause = _fails_once(postgres_url)
        conn.rollback()
    holder.dispose()
    # The server's statement timeout, or the client's deadline cutting the socket: both end it.
    assert re.search(r"statement timeout|did not answer within 0\.5 s", str(cause)), cause
    with Store.from_url(postgres_url, upgrade=False) as store:
        assert store.state("var_engine").mode is Mode.CANARY  # nothing half written


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["closed port", "black hole"])
def test_rollback_cli_on_an_unreachable_postgres_says_not_done(postgres_url: str, fault: str) -> None:
    """runbook rollback on a PostgreSQL store it cannot reach: NOT DONE, exit 1, through libpq (no
    psycopg loaded)."""
    with TcpProxy("127.0.0.1", 9) as proxy:
        proxy.blackhole()
        port = _closed_port() if fault == "closed port" else proxy.port
        done, loaded = _run_cli(_elsewhere(postgres_url, port), "rollback", "var_engine", "--reason", "page",
                                RUNBOOK_STORE_TIMEOUT_S="0.5", RUNBOOK_ROLLBACK_DEADLINE_S="0.5")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rollback of var_engine NOT DONE" in done.stderr
    assert ("refused" if fault == "closed port" else "timeout expired") in done.stderr
    assert loaded == [""]
