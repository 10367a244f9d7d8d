"""The state store: one SQLAlchemy engine on SQLite or PostgreSQL, schema upgraded by Alembic.

SQLite is the default (a file under ``RUNBOOK_HOME``): WAL lets router processes read while the CLI
writes, a busy timeout makes writers wait instead of failing, and every write transaction starts
with ``BEGIN IMMEDIATE`` so writers serialise up front. On PostgreSQL (psycopg 3) every write
transaction takes one advisory lock, which gives the audit hash chain the same single-writer order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, NoSuchModuleError, OperationalError

from runbook.control._changes import ChangeSignal
from runbook.control._engine import (
    DEFAULT_TIMEOUT_S,
    RELAXED_SYNC_OPTION,
    WRITE_OPTION,
    Deadlines,
    current_revision,
    make_engine,
    sqlite_path,
)
from runbook.control._schema import HEAD_REVISION, PG_WRITE_LOCK_KEY, STATE_CHANNEL
from runbook.control._state_rows import catalog_states, state_from_row
from runbook.control.models import ComponentStateRow
from runbook.domain.components import catalog_components
from runbook.domain.state import ComponentState
from runbook.errors import BadSetting, StoreMissing, StoreUnavailable

if TYPE_CHECKING:
    from runbook.settings import Settings

__all__ = ["DEFAULT_TIMEOUT_S", "HEAD_REVISION", "MIGRATIONS_DIR", "STATE_CHANNEL", "Store", "normalize_url"]

# HEAD_REVISION, the newest Alembic revision, lives in ``_schema`` (the DB-API rollback checks it too).
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Bound of bulk transactions (migrations, observation windows, the audit walk), in seconds.
_BULK_TIMEOUT_S = 120.0


def normalize_url(url: str) -> str:
    """``url`` with PostgreSQL spellings mapped to the psycopg 3 driver (``postgresql+psycopg``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Store:
    """Handle on the state store: the engine, schema upgrades and the component_state reads.

    ``ProductionSafetyManager`` is the only writer of ``component_state``; routers only read it.
    Every access is bounded by ``timeout_s`` (see ``_engine``). On SQLite the store is the file at
    the URL's path, checked on every access: a deleted file is an error (re-created only when
    ``create``); a file replaced under that name drops the pooled connections to the old one.
    """

    def __init__(self, engine: Engine, *, timeout_s: float = DEFAULT_TIMEOUT_S, create: bool = True) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.timeout_s = timeout_s
        self._path = sqlite_path(self.url) if self.is_sqlite else None
        self._create = create
        self._identity: tuple[int, int] | None = None
        self._deadlines = None if self.is_sqlite else Deadlines()
        self._changes: ChangeSignal | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        upgrade: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        create: bool | None = None,
    ) -> Store:
        """Open the store at ``url``; with ``upgrade`` create or upgrade the schema first.

        ``create`` (default: ``upgrade``) allows creating a missing SQLite file.
        """
        create = upgrade if create is None else create
        try:
            engine = make_engine(normalize_url(url), timeout_s, create=create)
        except (ArgumentError, NoSuchModuleError) as exc:
            shown = re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)
            raise BadSetting(
                f"database URL {shown!r} (RUNBOOK_DATABASE_URL) cannot be opened: {exc}; allowed: a "
                "SQLAlchemy URL such as sqlite:////path/runbook.db or postgresql+psycopg://user@host/db"
            ) from None
        store = cls(engine, timeout_s=timeout_s, create=create)
        if upgrade:
            store.upgrade()
        return store

    @classmethod
    def from_settings(cls, settings: Settings, *, upgrade: bool = True) -> Store:
        """Open the store configured by ``RUNBOOK_DATABASE_URL`` (default: SQLite under home)."""
        return cls.from_url(
            settings.resolved_database_url, upgrade=upgrade, timeout_s=settings.store_timeout_s
        )

    @property
    def url(self) -> str:
        """The SQLAlchemy URL in use, password included."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def display_url(self) -> str:  # for messages
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def bulk_timeout_s(self) -> float:  # for migrations, observation windows, the audit walk
        return max(_BULK_TIMEOUT_S, self.timeout_s)

    @property
    def sqlite_file(self) -> Path | None:  # None on PostgreSQL
        return self._path

    @property
    def file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the SQLite file this store last read or wrote; None before or on PostgreSQL."""
        return self._identity

    def dispose(self) -> None:
        """Close every pooled connection and stop the change signal."""
        if self._changes is not None:
            self._changes.close()
            self._changes = None
        self.engine.dispose()

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` (from a background thread) whenever the state may have changed.

        Routers use it to refresh at once (see ``runbook.control._changes``); returns the
        function that unsubscribes. An in-memory SQLite database never signals.
        """
        if self.is_sqlite and self._path is None:
            return lambda: None
        if self._changes is None:
            self._changes = ChangeSignal(
                self.url, channel=STATE_CHANNEL, sqlite_file=self._path, timeout_s=self.timeout_s
            )
        return self._changes.subscribe(callback)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    # ---- transactions -------------------------------------------------------------------------
    @contextmanager
    def read(self, *, timeout_s: float | None = None) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot); connection failures become StoreUnavailable.

        ``timeout_s`` replaces the store's bound for this transaction (bulk reads of windows).
        """
        with self._translate_errors():
            self._check_file()
            with self.engine.connect() as conn, self._deadline(conn, timeout_s), conn.begin():
                if timeout_s is not None and not self.is_sqlite:
                    conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))
                yield conn

    @contextmanager
    def write(
        self, *, exclusive: bool = True, timeout_s: float | None = None, durable: bool = True
    ) -> Iterator[Connection]:
        """A write transaction; ``exclusive`` holds the store's single writer lock until it commits.

        SQLite: always ``BEGIN IMMEDIATE`` (waits up to the busy timeout). PostgreSQL: an advisory
        transaction lock when ``exclusive``. Every writer of component_state or the audit chain is
        exclusive, so they run one at a time and the chain never forks; bulk observation inserts
        are not, so they never wait on the control plane. ``timeout_s`` as for ``read``.
        ``durable=False`` (observation batches): on SQLite the commit skips the fsync (WAL with
        synchronous=NORMAL: a power cut may lose the last such commits, the file stays sound).
        """
        with self._translate_errors():
            self._check_file()
            with self.engine.connect() as conn, self._deadline(conn, timeout_s), self._busy(conn, timeout_s):
                conn.execution_options(**{WRITE_OPTION: True, RELAXED_SYNC_OPTION: not durable})
                with conn.begin():
                    if timeout_s is not None and not self.is_sqlite:
                        conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))
                    if exclusive and not self.is_sqlite:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK_KEY})
                    yield conn

    @contextmanager
    def _busy(self, conn: Connection, timeout_s: float | None) -> Iterator[None]:
        """SQLite: ``timeout_s`` as this connection's busy timeout for one transaction (a schema
        upgrade waits for another process's upgrade as long as its own bound), then the store's."""
        if timeout_s is None or not self.is_sqlite:
            yield
            return
        raw = conn.connection.driver_connection  # outside SQLAlchemy's transaction (a PRAGMA)
        raw.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")  # type: ignore[union-attr]
        try:
            yield
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")  # type: ignore[union-attr]

    @contextmanager
    def bounded(self, fd: int, timeout_s: float | None = None) -> Iterator[None]:
        """PostgreSQL: shut the socket ``fd`` down if the block outlasts the bound (a timeout error)."""
        if self._deadlines is None:
            yield
            return
        with self._deadlines.guard(fd, self.timeout_s if timeout_s is None else timeout_s, self.display_url):
            yield

    def _deadline(self, conn: Connection, timeout_s: float | None) -> AbstractContextManager[None]:
        if self._deadlines is None:
            return nullcontext()
        return self.bounded(conn.connection.driver_connection.pgconn.socket, timeout_s)  # type: ignore[union-attr]

    def _check_file(self) -> None:
        if self._path is None:
            return
        try:
            found = os.stat(self._path)
        except FileNotFoundError:
            if self._identity is None and self._create:
                return  # first use: SQLite creates the file
            self._forget()
            raise StoreMissing(
                f"state store file {self._path} does not exist (deleted or moved); "
                "nothing was read or written"
            ) from None
        except OSError as exc:
            raise StoreUnavailable(f"state store file {self._path} cannot be checked: {exc}") from exc
        identity = (found.st_dev, found.st_ino)
        if identity != self._identity:
            if self._identity is not None:
                self.engine.dispose()  # pooled connections still read the old, replaced file
            self._identity = identity

    def _forget(self) -> None:
        self._identity = None
        self.engine.dispose()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError, DatabaseError) as exc:
            if not isinstance(exc, OperationalError | InterfaceError) and type(exc) is not DatabaseError:
                raise  # integrity and programming errors are bugs or conflicts, not an outage
            self.engine.dispose()  # a connection that failed once may keep failing (closed, corrupt file)
            detail = " ".join(str(exc.orig).split())
            raise StoreUnavailable(f"state store {self.display_url} is unavailable: {detail}") from exc

    # ---- schema -------------------------------------------------------------------------------
    def revision(self) -> str | None:
        """The schema's Alembic revision, or None for an empty database."""
        with self.read() as conn:
            return current_revision(conn)

    def upgrade(self) -> str:
        """Create or upgrade the schema to the newest revision; safe to run from many processes."""
        if self.revision() == HEAD_REVISION:
            return HEAD_REVISION
        from alembic import command
        from alembic.config import Config

        with self.write(timeout_s=self.bulk_timeout_s) as conn:
            if current_revision(conn) != HEAD_REVISION:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        return HEAD_REVISION

    # ---- component state ----------------------------------------------------------------------
    def states(self) -> dict[str, ComponentState]:
        """Every catalog component's state, in catalog order; never-touched ones are legacy at 0."""
        with self.read() as conn:
            rows = conn.execute(select(ComponentStateRow.__table__)).mappings().all()
        return catalog_states({row["component"]: state_from_row(row) for row in rows})

    def state(self, component: str) -> ComponentState:
        """One component's state (legacy at epoch 0 when never touched)."""
        with self.read() as conn:
            return read_state(conn, component)

    def epoch_signature(self) -> tuple[int, ...]:
        """The epochs of the catalog components in catalog order: a cheap change detector."""
        table = ComponentStateRow.__table__
        with self.read() as conn:
            epochs = dict(conn.execute(select(table.c.component, table.c.epoch)).all())
        names = [c.value for c in catalog_components()]
        names += sorted(set(epochs) - set(names))
        return tuple(int(epochs.get(name, 0)) for name in names)


def read_state(conn: Connection, component: str) -> ComponentState:
    """The stored state of ``component`` read on ``conn`` (initial when there is no row)."""
    table = ComponentStateRow.__table__
    row = conn.execute(select(table).where(table.c.component == component)).mappings().first()
    return state_from_row(row) if row is not None else ComponentState.initial(component)
