"""The store's SQLAlchemy engine, with bounded waits on both backends.

Every store access has a deadline (``timeout_s``):

- SQLite: the driver's busy timeout (a writer waits at most that long for the lock).
- PostgreSQL: ``connect_timeout`` bounds the connection (TCP and start-up), the server's
  ``statement_timeout`` bounds slow statements and lock waits, and ``Deadlines`` bounds the whole
  transaction on the client side: a server that accepts TCP and then never answers is cut by
  shutting the socket down, so the waiting call fails instead of hanging.

There is no ``pool_pre_ping`` (a ping could itself hang before any deadline is armed); instead the
store disposes the pool on every connection error, so the next access reconnects.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from runbook.control._deadlines import Deadlines
from runbook.control._schema import REVISION_QUERY, REVISION_TABLE_EXISTS
from runbook.errors import StoreUnavailable

__all__ = [
    "DEFAULT_TIMEOUT_S", "RELAXED_SYNC_OPTION", "WRITE_OPTION", "Deadlines", "current_revision",
    "make_engine", "sqlite_path",
]  # fmt: skip

DEFAULT_TIMEOUT_S = 5.0
WRITE_OPTION = "runbook_write"
# SQLite: a write transaction with this option commits with synchronous=NORMAL (no fsync per commit in
# WAL mode; a power cut may lose the last commits, never corrupts); every other write with FULL.
RELAXED_SYNC_OPTION = "runbook_relaxed_sync"
_PG_MIN_CONNECT_TIMEOUT_S = 2  # libpq and psycopg treat anything lower as 2 s


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite ``url``; None for other backends, memory and URI databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def make_engine(url: str, timeout_s: float, *, create: bool = True) -> Engine:
    """An engine on ``url`` whose connects and statements give up after ``timeout_s`` seconds.

    ``create``: make a SQLite file's folder if missing (the file itself is created on first use).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args = {
            "connect_timeout": max(_PG_MIN_CONNECT_TIMEOUT_S, math.ceil(timeout_s)),
            "options": f"-c statement_timeout={int(timeout_s * 1000)}",
        }
        return create_engine(url, connect_args=connect_args)
    path = sqlite_path(url)
    if path is not None and create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the SQLite database folder {path.parent}: {exc}") from exc
    engine = create_engine(url, connect_args={"timeout": timeout_s})
    busy_ms = int(timeout_s * 1000)
    event.listen(engine, "connect", lambda dbapi, _record: _sqlite_on_connect(dbapi, busy_ms))
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def current_revision(conn: Connection) -> str | None:
    """The schema's Alembic revision read on ``conn``, or None for an empty database."""
    exists = conn.execute(text(REVISION_TABLE_EXISTS[conn.dialect.name])).scalar()
    if not exists:
        return None
    return conn.execute(text(REVISION_QUERY)).scalar()


def _sqlite_on_connect(dbapi_connection: Any, busy_ms: int) -> None:
    # Take transaction control away from the sqlite3 module so that BEGIN IMMEDIATE is possible.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if not options.get(WRITE_OPTION, False):
        conn.exec_driver_sql("BEGIN")
        return
    # Per transaction (connections are pooled): only bulk observation inserts skip the fsync.
    relaxed = options.get(RELAXED_SYNC_OPTION, False)
    conn.exec_driver_sql(f"PRAGMA synchronous={'NORMAL' if relaxed else 'FULL'}")
    conn.exec_driver_sql("BEGIN IMMEDIATE")

