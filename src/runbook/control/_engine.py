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

import heapq
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

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
    if conn.dialect.name == "sqlite":
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
    else:
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


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


class Deadlines:
    """One watchdog thread per store that cuts PostgreSQL sockets whose transaction overran.

    ``arm(fd, seconds)`` returns a token; ``disarm(token)`` returns True when the deadline had
    already fired (the socket was shut down, so the caller's error is a timeout).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, int] = {}
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        token = next(self._tokens)
        with self._cond:
            self._live[token] = fd
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, fd))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="runbook-store-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    @contextmanager
    def guard(self, fd: int, seconds: float, store: str) -> Iterator[None]:
        """Arm around the block; a cut socket's error becomes "did not answer within" (StoreUnavailable)."""
        token = self.arm(fd, seconds)
        try:
            yield
        except Exception as exc:
            if self.disarm(token):
                raise StoreUnavailable(
                    f"state store {store} did not answer within {seconds:g} s (RUNBOOK_STORE_TIMEOUT_S)"
                ) from exc
            raise
        finally:
            self.disarm(token)

    def disarm(self, token: int) -> bool:
        with self._cond:
            self._live.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
        return False

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # disarmed in time
                if not self._heap:
                    self._cond.wait()
                    continue
                due, token, fd = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.pop(token, None)
                self._fired.add(token)
                _cut(fd)


def _cut(fd: int) -> None:
    # shutdown() acts on the socket itself (not on this duplicate descriptor): the driver's pending
    # read returns at once with "server closed the connection".
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
