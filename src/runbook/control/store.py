"""The state store: one SQLAlchemy engine on SQLite or PostgreSQL, schema upgraded by Alembic.

SQLite is the default (a file under ``RUNBOOK_HOME``): WAL lets router processes read while the CLI
writes, a busy timeout makes writers wait instead of failing, and every write transaction starts
with ``BEGIN IMMEDIATE`` so writers serialise up front. On PostgreSQL (psycopg 3) every write
transaction takes one advisory lock, which gives the audit hash chain the same single-writer order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from runbook.control._time import as_utc
from runbook.control.models import ComponentStateRow
from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.domain.state import ComponentState
from runbook.errors import StoreUnavailable

if TYPE_CHECKING:
    from runbook.settings import Settings

__all__ = ["HEAD_REVISION", "MIGRATIONS_DIR", "STATE_CHANNEL", "Store", "normalize_url"]

# The newest Alembic revision; checked cheaply so that a store already at head never imports Alembic.
HEAD_REVISION = "0002"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_S = 30.0
# pg_advisory_xact_lock key shared by every runbook write transaction ("runbook" in ASCII).
PG_WRITE_LOCK_KEY = 0x72756E626F6F6B
_WRITE_OPTION = "runbook_write"
# PostgreSQL NOTIFY channel of component_state changes; payload "<component>:<epoch>".
STATE_CHANNEL = "runbook_component_state"


def normalize_url(url: str) -> str:
    """``url`` with PostgreSQL spellings mapped to the psycopg 3 driver (``postgresql+psycopg``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Store:
    """Handle on the state store: the engine, schema upgrades and the component_state reads.

    ``ProductionSafetyManager`` is the only writer of ``component_state``; routers only read it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str, *, upgrade: bool = True) -> Store:
        """Open the store at ``url``; with ``upgrade`` create or upgrade the schema first."""
        store = cls(_make_engine(normalize_url(url)))
        if upgrade:
            store.upgrade()
        return store

    @classmethod
    def from_settings(cls, settings: Settings, *, upgrade: bool = True) -> Store:
        """Open the store configured by ``RUNBOOK_DATABASE_URL`` (default: SQLite under home)."""
        return cls.from_url(settings.resolved_database_url, upgrade=upgrade)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL in use, password included."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def display_url(self) -> str:
        """The URL with the password masked, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    # ---- transactions -------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot); connection failures become StoreUnavailable."""
        with self._translate_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, *, exclusive: bool = True) -> Iterator[Connection]:
        """A write transaction; ``exclusive`` holds the store's single writer lock until it commits.

        SQLite: always ``BEGIN IMMEDIATE`` (waits up to the busy timeout). PostgreSQL: an advisory
        transaction lock when ``exclusive``. Every writer of component_state or the audit chain is
        exclusive, so they run one at a time and the chain never forks; bulk observation inserts
        are not, so they never wait on the control plane.
        """
        with self._translate_errors(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                if exclusive and not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK_KEY})
                yield conn

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            detail = " ".join(str(exc.orig).split())
            raise StoreUnavailable(f"state store {self.display_url} is unavailable: {detail}") from exc

    # ---- schema -------------------------------------------------------------------------------
    def revision(self) -> str | None:
        """The schema's Alembic revision, or None for an empty database."""
        with self.read() as conn:
            return _current_revision(conn)

    def upgrade(self) -> str:
        """Create or upgrade the schema to the newest revision; safe to run from many processes."""
        if self.revision() == HEAD_REVISION:
            return HEAD_REVISION
        from alembic import command
        from alembic.config import Config

        with self.write() as conn:
            if _current_revision(conn) != HEAD_REVISION:
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
        by_name = {row["component"]: state_from_row(row) for row in rows}
        return {c.value: by_name.get(c.value) or ComponentState.initial(c.value) for c in Component}

    def state(self, component: str) -> ComponentState:
        """One component's state (legacy at epoch 0 when never touched)."""
        with self.read() as conn:
            return read_state(conn, component)

    def epoch_signature(self) -> tuple[int, ...]:
        """The epochs of the catalog components in catalog order: a cheap change detector."""
        table = ComponentStateRow.__table__
        with self.read() as conn:
            epochs = dict(conn.execute(select(table.c.component, table.c.epoch)).all())
        return tuple(int(epochs.get(c.value, 0)) for c in Component)


def read_state(conn: Connection, component: str) -> ComponentState:
    """The stored state of ``component`` read on ``conn`` (initial when there is no row)."""
    table = ComponentStateRow.__table__
    row = conn.execute(select(table).where(table.c.component == component)).mappings().first()
    return state_from_row(row) if row is not None else ComponentState.initial(component)


def state_from_row(row: Any) -> ComponentState:
    """A ComponentState from a component_state row mapping."""
    return ComponentState(
        component=row["component"],
        mode=Mode(row["mode"]),
        traffic_fraction=float(row["traffic_fraction"]),
        epoch=int(row["epoch"]),
        updated_at=as_utc(row["updated_at"]),
        updated_by=row["updated_by"],
        reason=row["reason"] or "",
    )


def _current_revision(conn: Connection) -> str | None:
    if conn.dialect.name == "sqlite":
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
    else:
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        folder = Path(parsed.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the SQLite database folder {folder}: {exc}") from exc
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so that BEGIN IMMEDIATE is possible.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
