"""Shared fixtures: a fresh SQLite store per test, a private PostgreSQL database per session,
and one Prefect test server per session (requested only by tests that need it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "RUNBOOK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("RUNBOOK_REQUIRE_POSTGRES") == "1"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test's own."""
    return f"sqlite:///{tmp_path / 'runbook.db'}"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A private PostgreSQL database for this session, dropped at the end.

    Skips with the reason when no server answers; with RUNBOOK_REQUIRE_POSTGRES=1 (set by .ci/run)
    that skip becomes a failure.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(POSTGRES_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means PostgreSQL is not reachable
        reason = f"PostgreSQL not reachable at {admin_url.render_as_string(hide_password=True)}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (RUNBOOK_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"runbook_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """The session's PostgreSQL database, emptied of runbook tables before each test."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(text("drop schema public cascade"))
        conn.execute(text("create schema public"))
    engine.dispose()
    return postgres_server_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect server for the whole session (``prefect_test_harness``)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def ssh_signers(tmp_path: Path) -> dict[str, Path]:
    """Real ed25519 keys made by ssh-keygen for alice, bob, dave and erin; an allowed-signers file
    (key ``allowed``) that lists alice@firm, bob@firm and dave@firm, not erin."""
    import subprocess

    folder = tmp_path / "ssh"
    folder.mkdir()
    keys: dict[str, Path] = {}
    lines = []
    for name in ("alice", "bob", "dave", "erin"):
        key = folder / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                       check=True)
        keys[name] = key
        if name != "erin":
            lines.append(f"{name}@firm {(folder / f'{name}.pub').read_text().strip()}")
    keys["allowed"] = folder / "allowed_signers"
    keys["allowed"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return keys
