"""``runbook rollback`` on the DB-API: stdlib ``sqlite3``, libpq or ``psycopg``, never SQLAlchemy.

The page-at-3-am path: Python start-up plus SQLAlchemy's import cost more than the rollback itself,
so the command writes the very rows ``ProductionSafetyManager`` writes, with plain SQL built from
the names in ``_schema``, and keeps every rule of ``emergency.verified_rollback``:

- one exclusive write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL the runbook advisory
  lock) that reads the states, writes each live component's ``rolled_back`` row with its epoch
  bumped, appends the audit rows to the hash chain (``_chain``), and on PostgreSQL sends the NOTIFY
  that LISTENing routers refresh on (SQLite routers see ``PRAGMA data_version`` change);
- connect and statement timeouts as the store's (busy timeout; ``connect_timeout``,
  ``statement_timeout`` and a client-side ``Deadlines`` cut on PostgreSQL);
- a read-back on a fresh connection, from the same SQLite file (device, inode) that was written;
- the retry loop, messages and report of ``_verify``.

On PostgreSQL it talks to libpq directly over ``ctypes`` (``import psycopg`` alone costs more than
the rollback's round trips) and falls back to psycopg where no libpq loads.

It handles what it can do exactly and nothing else: a URL form it does not parse as SQLAlchemy
would, another backend, or a schema not at ``HEAD_REVISION`` raises ``NotHandled`` before anything
is written, and the caller takes the full path (which also upgrades the schema).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, unquote

from runbook.control._chain import GENESIS_HASH, canonical_evidence, float_or_none, row_digest
from runbook.control._deadlines import Deadlines
from runbook.control._limits import check_actor, clip_rollback_input
from runbook.control._schema import (
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    HEAD_REVISION,
    PG_WRITE_LOCK_KEY,
    REVISION_QUERY,
    REVISION_TABLE_EXISTS,
    STATE_CHANNEL,
    STATE_COLUMNS,
    STATE_TABLE,
)
from runbook.control._state_rows import catalog_states, state_from_row
from runbook.control._time import utc_now
from runbook.control._verify import Attempt, RollbackReport, check_read_back, check_same_file, retry_rollback
from runbook.domain.components import ALL_COMPONENTS_ALIAS, catalog_components, parse_component
from runbook.domain.modes import LIVE_MODES, Mode
from runbook.domain.state import ComponentState
from runbook.errors import InvalidTransition, StoreMissing, StoreUnavailable

__all__ = ["NotHandled", "StoreTarget", "fast_verified_rollback", "parse_store_url"]

# SQLAlchemy's URL grammar (sqlalchemy.engine.url._parse_url), so both paths read a URL alike.
_URL = re.compile(
    r"""
    (?P<name>[\w\+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)
_SQLITE_NAMES = ("sqlite", "sqlite+pysqlite")
_POSTGRES_NAMES = ("postgres", "postgresql", "postgresql+psycopg")
_PG_MIN_CONNECT_TIMEOUT_S = 2  # as _engine


class NotHandled(Exception):
    """The DB-API rollback does not handle this store (URL form, backend or schema revision)."""


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """A store URL as the DB-API path uses it: backend, the URL as shown, where to connect."""

    backend: str  # "sqlite" or "postgresql"
    display_url: str  # as Store.display_url shows it (password hidden)
    sqlite_file: Path | None = None
    connect_kwargs: dict[str, Any] = field(default_factory=dict)  # psycopg.connect keywords


def parse_store_url(url: str) -> StoreTarget:
    """``url`` parsed as the full path parses it; NotHandled for any form it does not read exactly."""
    match = _URL.fullmatch(url)
    if match is None or match["query"] is not None or match["ipv6host"] is not None:
        raise NotHandled(f"store URL form not handled: {url!r}")
    name, database = match["name"], match["database"]
    if name in _SQLITE_NAMES:
        if match["username"] is not None or match["ipv4host"] or match["port"] is not None:
            raise NotHandled("SQLite URL with a host")
        path = unquote(database or "")
        if not path or path == ":memory:" or path.startswith(("file:", "~")):
            raise NotHandled("SQLite URL without a plain file path")
        return StoreTarget("sqlite", f"{name}:///{quote(path, safe=' +/')}", Path(path).absolute())
    if name not in _POSTGRES_NAMES:
        raise NotHandled(f"backend {name!r} not handled")
    user, password, host, port = match["username"], match["password"], match["ipv4host"], match["port"]
    if user == "" or (port is not None and not port.isdigit()):
        raise NotHandled("PostgreSQL URL form not handled")
    shown = "postgresql+psycopg://"
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs["user"] = unquote(user)
        shown += quote(kwargs["user"], safe=" +") + ("" if password is None else ":***") + "@"
        if password is not None:
            kwargs["password"] = unquote(password)
    if host:
        kwargs["host"] = host
        shown += host
    if port is not None:
        kwargs["port"] = int(port)
        shown += f":{int(port)}"
    if database is not None:
        kwargs["dbname"] = unquote(database)
        shown += "/" + quote(kwargs["dbname"], safe=" +/")
    return StoreTarget("postgresql", shown, None, kwargs)


def fast_verified_rollback(
    url: str,
    target: str,
    *,
    actor: str,
    reason: str,
    timeout_s: float,
    deadline_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, Exception, float], None] | None = None,
    postgres_client: str | None = None,
) -> RollbackReport:
    """``emergency.verified_rollback`` on the DB-API; NotHandled (nothing written) where it cannot.

    PostgreSQL goes through libpq directly (``_libpq``) when it loads, else psycopg;
    ``postgres_client`` ("libpq" or "psycopg") insists on one.
    """
    if postgres_client not in (None, "libpq", "psycopg"):
        raise ValueError(f"postgres_client {postgres_client!r}: use 'libpq', 'psycopg' or None")
    store = parse_store_url(url)
    names = None if target == ALL_COMPONENTS_ALIAS else [parse_component(target).value]
    actor, reason, notes = clip_rollback_input(actor, reason)
    check_actor(actor)
    return retry_rollback(
        target, lambda: _attempt(store, names, actor, reason, timeout_s, postgres_client), notes=notes,
        timeout_s=timeout_s, deadline_s=deadline_s, clock=clock, sleep=sleep, on_retry=on_retry,
    )  # fmt: skip


# ---- one attempt --------------------------------------------------------------------------------
def _attempt(
    store: StoreTarget, names: list[str] | None, actor: str, reason: str, timeout_s: float, client: str | None
) -> Attempt:
    with _transaction(store, timeout_s, write=True, client=client) as (db, written):
        if _revision(db) != HEAD_REVISION:
            raise NotHandled("schema not at the head revision")
        before = _states(db)
        writer = _Writer(db, actor, reason)
        if names is None:
            changed = {s.component: s for s in writer.rollback_all(before)}
        else:
            changed = {n: writer.rollback(before[n]) for n in names}
    with _transaction(store, timeout_s, write=False, client=client) as (db, read):
        states = _states(db)
    check_same_file(store.sqlite_file, written, read)
    return before, changed, check_read_back(names, states, store.display_url), store.display_url


_Execute = Callable[[str, tuple[Any, ...]], tuple[list[Any], int]]  # (sql, params) -> (rows, rowcount)


class _Db:
    """A connection inside a transaction: ``run`` takes ``?`` marks, ``rowcount`` is the last statement's."""

    def __init__(self, execute: _Execute, backend: str) -> None:
        self.execute, self.backend, self.rowcount = execute, backend, -1

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows, self.rowcount = self.execute(sql, params)
        return rows


def _dbapi(conn: Any, mark: str) -> _Execute:
    cursor = conn.cursor()

    def execute(sql: str, params: tuple[Any, ...]) -> tuple[list[Any], int]:
        cursor.execute(sql.replace("?", mark), params)
        return (list(cursor.fetchall()) if cursor.description is not None else []), cursor.rowcount

    return execute


def _numbered(sql: str) -> str:
    """``?`` marks as libpq's ``$1..$n`` (the SQL here has no ``?`` anywhere else)."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


@contextmanager
def _transaction(
    store: StoreTarget, timeout_s: float, *, write: bool, client: str | None = None
) -> Iterator[tuple[_Db, object]]:
    """A transaction on a fresh connection, committed on success; yields (db, file identity)."""
    if store.backend == "sqlite":
        with _sqlite_transaction(store, timeout_s, write=write) as found:
            yield found
    else:
        with _postgres_transaction(store, timeout_s, write=write, client=client) as found:
            yield found


@contextmanager
def _sqlite_transaction(store: StoreTarget, timeout_s: float, *, write: bool) -> Iterator[tuple[_Db, object]]:
    import sqlite3  # each backend's driver loads only when used

    path = store.sqlite_file
    assert path is not None
    identity = _file_identity(path)
    conn = None
    try:
        # mode=rw never creates the file, even if it vanishes between the check and the open.
        conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=timeout_s, isolation_level=None)
        for pragma in ("journal_mode=WAL", f"busy_timeout={int(timeout_s * 1000)}", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        if write:
            conn.execute("PRAGMA synchronous=FULL")  # a control-plane write survives a power cut
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield _Db(_dbapi(conn, "?"), "sqlite"), identity
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    except (sqlite3.OperationalError, sqlite3.InterfaceError, sqlite3.DatabaseError) as exc:
        _unavailable(exc, sqlite3.OperationalError, sqlite3.InterfaceError, sqlite3.DatabaseError, store)
    finally:
        if conn is not None:
            conn.close()


@contextmanager
def _postgres_transaction(
    store: StoreTarget, timeout_s: float, *, write: bool, client: str | None
) -> Iterator[tuple[_Db, object]]:
    from runbook.control import _libpq

    lib = None if client == "psycopg" else _libpq.load()
    if lib is None and client == "libpq":
        raise StoreUnavailable("libpq cannot be loaded (neither the system's nor psycopg_binary's)")
    transaction = _psycopg_transaction if lib is None else _libpq_transaction
    with transaction(store, timeout_s, write=write) as found:
        yield found


def _pg_options(timeout_s: float) -> dict[str, Any]:
    return {
        "connect_timeout": max(_PG_MIN_CONNECT_TIMEOUT_S, math.ceil(timeout_s)),
        "options": f"-c statement_timeout={int(timeout_s * 1000)}",
    }


@contextmanager
def _libpq_transaction(store: StoreTarget, timeout_s: float, *, write: bool) -> Iterator[tuple[_Db, object]]:
    from runbook.control._libpq import PqConnection, PqError, conninfo, load

    lib = load()
    assert lib is not None
    options = _pg_options(timeout_s)
    options["options"] += " -c DateStyle=ISO"  # the timestamp text _libpq reads
    conn = None
    try:
        conn = PqConnection(lib, conninfo(**store.connect_kwargs, **options, client_encoding="UTF8"))
        with _DEADLINES.guard(conn.socket, timeout_s, store.display_url):
            db = _Db(lambda sql, params: conn.execute(_numbered(sql), params), "postgresql")
            db.run("BEGIN")
            if write:
                db.run("SELECT pg_advisory_xact_lock(?)", (PG_WRITE_LOCK_KEY,))
            try:
                yield db, None
            except BaseException:
                with suppress(PqError):  # a lost connection rolls back on the server
                    db.run("ROLLBACK")
                raise
            db.run("COMMIT")
    except PqError as exc:
        if not exc.outage:
            raise  # integrity and programming errors are bugs or conflicts, not an outage
        raise StoreUnavailable(f"state store {store.display_url} is unavailable: {exc}") from exc
    finally:
        if conn is not None:
            conn.close()


@contextmanager
def _psycopg_transaction(
    store: StoreTarget, timeout_s: float, *, write: bool
) -> Iterator[tuple[_Db, object]]:
    import psycopg

    conn = None
    try:
        conn = psycopg.connect(**_pg_options(timeout_s), **store.connect_kwargs)
        with _DEADLINES.guard(conn.pgconn.socket, timeout_s, store.display_url):
            db = _Db(_dbapi(conn, "%s"), "postgresql")
            if write:
                db.run("SELECT pg_advisory_xact_lock(?)", (PG_WRITE_LOCK_KEY,))
            try:
                yield db, None
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
    except (psycopg.OperationalError, psycopg.InterfaceError, psycopg.DatabaseError) as exc:
        _unavailable(exc, psycopg.OperationalError, psycopg.InterfaceError, psycopg.DatabaseError, store)
    finally:
        if conn is not None:
            conn.close()


_DEADLINES = Deadlines()


def _unavailable(
    exc: Exception, operational: type, interface: type, database: type, store: StoreTarget
) -> NoReturn:
    """Re-raise ``exc`` as the store does: an outage becomes StoreUnavailable, anything else stays."""
    if not isinstance(exc, operational | interface) and type(exc) is not database:
        raise exc  # integrity and programming errors are bugs or conflicts, not an outage
    detail = " ".join(str(exc).split())
    raise StoreUnavailable(f"state store {store.display_url} is unavailable: {detail}") from exc


def _file_identity(path: Path) -> tuple[int, int]:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise StoreMissing(
            f"state store file {path} does not exist (deleted or moved); nothing was read or written"
        ) from None
    except OSError as exc:
        raise StoreUnavailable(f"state store file {path} cannot be checked: {exc}") from exc
    return (found.st_dev, found.st_ino)


# ---- reads and writes ---------------------------------------------------------------------------
_STATE_SELECT = f"SELECT {', '.join(STATE_COLUMNS)} FROM {STATE_TABLE}"


def _revision(db: _Db) -> str | None:
    exists = db.run(REVISION_TABLE_EXISTS[db.backend])
    if not exists or exists[0][0] is None:
        return None
    found = db.run(REVISION_QUERY)
    return found[0][0] if found else None


def _states(db: _Db) -> dict[str, ComponentState]:
    rows = (dict(zip(STATE_COLUMNS, row, strict=True)) for row in db.run(_STATE_SELECT))
    states = (state_from_row({**row, "updated_at": _datetime(row["updated_at"])}) for row in rows)
    return catalog_states({state.component: state for state in states})


def _datetime(value: object) -> datetime | None:
    # SQLite keeps DateTime columns as text ("YYYY-MM-DD HH:MM:SS.ffffff", UTC), PostgreSQL as timestamptz.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _stored(value: datetime, backend: str) -> object:
    """A timestamp as SQLAlchemy's DateTime binds it: naive UTC text on SQLite, the datetime on PostgreSQL."""
    if backend == "sqlite":
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


class _Writer:
    """ProductionSafetyManager's rollback writes (``_rollback_in``, ``rollback_all``) in plain SQL."""

    def __init__(self, db: _Db, actor: str, reason: str) -> None:
        self.db, self.actor, self.reason = db, actor, reason

    def rollback_all(self, states: dict[str, ComponentState]) -> list[ComponentState]:
        catalog = [states[c.value] for c in catalog_components()]
        changed = [self.rollback(s) for s in catalog if s.mode in LIVE_MODES]
        unchanged = {s.component: s.mode.value for s in catalog if s.mode not in LIVE_MODES}
        summary = {"rolled_back": [s.component for s in changed], "unchanged": unchanged}
        self._audit(ALL_COMPONENTS_ALIAS, "rollback_all", None, None, summary)
        return changed

    def rollback(self, current: ComponentState) -> ComponentState:
        if current.mode is Mode.RETIRED:
            raise InvalidTransition(
                f"{current.component} is retired: its legacy implementation was removed, so there is "
                "nothing to roll back to; nothing was changed (redeploy legacy to recover)"
            )
        if current.mode not in LIVE_MODES:
            self._audit(current.component, "rollback_noop", current, current, None)
            return current
        new = self._write_state(current)
        self._audit(current.component, "rollback", current, new, None)
        return new

    def _write_state(self, seen: ComponentState) -> ComponentState:
        new = ComponentState(
            component=seen.component, mode=Mode.ROLLED_BACK, traffic_fraction=0.0, epoch=seen.epoch + 1,
            updated_at=utc_now(), updated_by=self.actor, reason=self.reason,
        )  # fmt: skip
        assert new.updated_at is not None
        values = (new.mode.value, new.traffic_fraction, new.epoch, _stored(new.updated_at, self.db.backend),
                  new.updated_by, new.reason)  # fmt: skip
        columns = STATE_COLUMNS[1:]  # every column but the key, in _schema order
        assignments = ", ".join(f"{c} = ?" for c in columns)
        self.db.run(
            f"UPDATE {STATE_TABLE} SET {assignments} WHERE component = ? AND epoch = ?",
            (*values, seen.component, seen.epoch),
        )
        if self.db.rowcount != 1:
            # Inside the exclusive transaction only a never-written component has no row.
            marks = ", ".join("?" for _ in STATE_COLUMNS)
            self.db.run(f"INSERT INTO {STATE_TABLE} ({', '.join(STATE_COLUMNS)}) VALUES ({marks})",
                        (seen.component, *values))  # fmt: skip
        if self.db.backend == "postgresql":
            # Delivered at commit: routers listening on the channel refresh without waiting for a poll.
            self.db.run("SELECT pg_notify(?, ?)", (STATE_CHANNEL, f"{new.component}:{new.epoch}"))
        return new

    def _audit(
        self,
        component: str,
        action: str,
        before: ComponentState | None,
        after: ComponentState | None,
        evidence: dict[str, Any] | None,
    ) -> None:
        # As audit.append_entry: chained onto the newest row, inside the exclusive transaction.
        prev = self.db.run(f"SELECT row_hash FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1")
        at = after.updated_at if after is not None and after is not before else None
        row: dict[str, Any] = {
            "at": at or utc_now(),
            "component": component,
            "action": action,
            "actor": self.actor,
            "from_mode": None if before is None else before.mode.value,
            "to_mode": None if after is None else after.mode.value,
            "from_fraction": None if before is None else float_or_none(before.traffic_fraction),
            "to_fraction": None if after is None else float_or_none(after.traffic_fraction),
            "epoch": None if after is None else after.epoch,
            "reason": self.reason,
            "evidence": canonical_evidence(evidence),
            "prev_hash": (prev[0][0] if prev else None) or GENESIS_HASH,
        }
        row["row_hash"] = row_digest(row, row["prev_hash"])
        row["at"] = _stored(row["at"], self.db.backend)
        marks = ", ".join("?" for _ in AUDIT_COLUMNS)
        self.db.run(f"INSERT INTO {AUDIT_TABLE} ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})",
                    tuple(row[c] for c in AUDIT_COLUMNS))  # fmt: skip
