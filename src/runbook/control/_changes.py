"""Change signals for routers: a push when the store's state may have changed.

PostgreSQL: one thread per store LISTENs on ``STATE_CHANNEL`` (every state write sends a NOTIFY
at commit). SQLite has no push, so one thread per store looks every ``SQLITE_WATCH_S``: a ``stat``
of the file (deleted or replaced: the inode changes) and ``PRAGMA data_version`` on its own
connection (it changes when any other connection commits; file times are too coarse for that).
Either way subscribers are only told "look now": they read the state through the store
as usual, and keep polling as the fallback when the signal is lost (reconnects fire a signal too,
since notifications sent while disconnected are gone).

A LISTEN connection can die silently (a peer or middlebox that swallows packets while the TCP
connection stays up answers keepalives but never a query): after ``ping_interval_s`` without a
notification the listener sends ``SELECT 1``, bounded by ``timeout_s`` (``Deadlines`` cuts the
socket), and on no answer drops the connection and reconnects with back-off.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from runbook.control._deadlines import Deadlines
from runbook.errors import StoreUnavailable

__all__ = ["LISTEN_PING_S", "SQLITE_WATCH_S", "ChangeSignal"]

SQLITE_WATCH_S = 0.02
# Seconds without a notification after which the LISTEN connection is checked with a bounded ping.
LISTEN_PING_S = 5.0
_RECONNECT_MAX_S = 5.0


class ChangeSignal:
    """Calls every subscribed callback (from its own daemon thread) when the state may have changed."""

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        sqlite_file: Path | None,
        timeout_s: float,
        ping_interval_s: float = LISTEN_PING_S,
    ) -> None:
        self._url = url
        self._channel = channel
        self._file = sqlite_file
        self._timeout_s = timeout_s
        self._ping_interval_s = ping_interval_s
        self._listening = False
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` on every change signal; returns the function that unsubscribes."""
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                target = self._watch_file if self._file is not None else self._listen
                self._thread = threading.Thread(target=target, name="runbook-store-changes", daemon=True)
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    @property
    def listening(self) -> bool:
        """PostgreSQL: True while a LISTEN connection is up and answered its last ping."""
        return self._listening

    def close(self) -> None:
        self._stop.set()

    def _fire(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a subscriber's bug must not stop the signal
                continue

    # ---- SQLite -------------------------------------------------------------------------------
    def _watch_file(self) -> None:
        assert self._file is not None
        seen: tuple[object, object] = (_identity(self._file), None)
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(SQLITE_WATCH_S):
            identity = _identity(self._file)
            if identity != seen[0] and conn is not None:
                conn.close()  # it reads the old file
                conn = None
            version: object = None
            if identity is not None:
                try:
                    conn = conn or _open_existing(self._file)
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    version = "error"
                    if conn is not None:
                        conn.close()  # corrupt or half-written: open afresh next time
                    conn = None
            now = (identity, version)
            if now != seen:
                seen = now
                self._fire()
        if conn is not None:
            conn.close()

    # ---- PostgreSQL ---------------------------------------------------------------------------
    def _listen(self) -> None:
        import psycopg

        conninfo = make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
        shown = make_url(self._url).render_as_string(hide_password=True)
        deadlines = Deadlines()
        delay = 0.1
        while not self._stop.is_set():
            try:
                # Keepalives and tcp_user_timeout let the kernel notice a peer that vanished; the ping
                # notices one that still answers TCP but nothing else (the poll covers meanwhile).
                with psycopg.connect(
                    conninfo, autocommit=True, connect_timeout=max(2, int(self._timeout_s + 0.999)),
                    keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                    tcp_user_timeout=int(self._timeout_s * 1000),
                ) as conn:
                    with deadlines.guard(conn.pgconn.socket, self._timeout_s, shown):
                        conn.execute(f'LISTEN "{self._channel}"')
                    self._listening = True
                    self._fire()  # anything sent while we were not listening is lost: look once
                    delay = 0.1
                    self._receive(conn, deadlines, shown)
            except (psycopg.Error, StoreUnavailable):
                pass  # the poll keeps routers correct meanwhile; reconnect with back-off
            finally:
                self._listening = False
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, _RECONNECT_MAX_S)

    def _receive(self, conn: Any, deadlines: Deadlines, shown: str) -> None:
        """Fire on every notification; ping after ``ping_interval_s`` of silence (raises if no answer)."""
        heard = time.monotonic()
        while not self._stop.is_set():
            got = False
            for _note in conn.notifies(timeout=min(1.0, self._ping_interval_s), stop_after=1):
                got = True
            if got:
                heard = time.monotonic()
                self._fire()
            elif time.monotonic() - heard >= self._ping_interval_s:
                with deadlines.guard(conn.pgconn.socket, self._timeout_s, shown):
                    conn.execute("SELECT 1")
                heard = time.monotonic()


def _open_existing(path: Path) -> sqlite3.Connection:
    # mode=rw never creates the file (it only ever runs PRAGMA data_version)
    return sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, isolation_level=None)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)
