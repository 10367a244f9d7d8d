"""Observations: one row per routed call, written in bulk by the runtime's background recorder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, func, insert, select
from sqlalchemy.exc import InterfaceError, OperationalError

from runbook.control.models import ObservationRow
from runbook.domain.observation import ErrorKind, Observation, Route, observation_row
from runbook.errors import StoreUnavailable

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["ObservationStore"]

_TABLE = cast(Table, ObservationRow.__table__)
_FIELDS = tuple(f.name for f in fields(Observation))
_ENUM_FIELDS = ("route", "error_kind")
_COPY_SQL = f"COPY observations ({', '.join(_FIELDS)}) FROM STDIN"
_SQLITE_INSERT = f"INSERT INTO observations ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"
if _FIELDS != (  # pragma: no cover - observation_row spells the order out for speed
    "component", "mode", "route", "routing_key", "at", "legacy_latency_us", "candidate_latency_us",
    "error_kind", "abs_difference", "rel_difference", "legacy_digest", "candidate_digest", "memory_bytes",
    "epoch",
):  # fmt: skip
    raise ImportError("runbook.control.observations: Observation's fields changed; update observation_row")


class ObservationStore:
    """Bulk writer and windowed reader of the ``observations`` table.

    ``write_batch`` is one transaction outside the control plane's writer lock, so ingest never
    waits on a mode change. On PostgreSQL it streams the rows with ``COPY ... FROM STDIN`` on the
    engine's raw psycopg connection (one round trip, no per-row statement). On SQLite it is one
    executemany of plain tuples on the driver (no per-row parameter processing), committed without
    an fsync (``Store.write(durable=False)``: WAL, synchronous=NORMAL). Elsewhere a single
    executemany through SQLAlchemy Core (no ORM objects).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._copy = store.engine.dialect.name == "postgresql" and store.engine.dialect.driver == "psycopg"

    def write_batch(self, observations: Sequence[Observation]) -> int:
        """Insert ``observations`` in one transaction; return how many rows were written."""
        if not observations:
            return 0
        if self._copy:
            return self._copy_batch(observations)
        if self._store.is_sqlite:
            tuples = [observation_row(obs) for obs in observations]
            with self._store.write(exclusive=False, durable=False) as conn:
                conn.exec_driver_sql(_SQLITE_INSERT, tuples)
            return len(tuples)
        rows = [_row(obs) for obs in observations]
        with self._store.write(exclusive=False) as conn:
            conn.execute(insert(_TABLE), rows)
        return len(rows)

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """``write_batch`` for plain rows (``observation_row``: the fields in order, enums as values),
        as a candidate process builds them: no ``Observation`` is made per row on the way in."""
        if not rows:
            return 0
        if self._copy:
            return self._copy_batch(rows, made=True)
        if self._store.is_sqlite:
            with self._store.write(exclusive=False, durable=False) as conn:
                conn.exec_driver_sql(_SQLITE_INSERT, list(rows))
            return len(rows)
        with self._store.write(exclusive=False) as conn:
            conn.execute(insert(_TABLE), [dict(zip(_FIELDS, row, strict=True)) for row in rows])
        return len(rows)

    def _copy_batch(self, observations: Sequence[Any], *, made: bool = False) -> int:
        """PostgreSQL: the batch through COPY on a pooled raw connection, committed or rolled back."""
        import psycopg  # the driver of every postgresql URL here (normalize_url)

        try:
            raw = self._store.engine.raw_connection()
        except (OperationalError, InterfaceError) as exc:
            raise _unavailable(self._store, exc.orig) from exc
        try:
            driver = cast("psycopg.Connection[Any]", raw.driver_connection)
            with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
                for obs in observations:
                    copy.write_row(obs if made else observation_row(obs))
            raw.commit()
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raw.invalidate(exc)  # a broken connection must not go back to the pool
            raise _unavailable(self._store, exc) from exc
        finally:
            raw.close()  # back to the pool; an uncommitted transaction is rolled back there
        return len(observations)

    def window(
        self,
        component: str,
        *,
        since: float,
        until: float | None = None,
        mode: str | None = None,
        limit: int | None = None,
        error_kind: str | None = None,
    ) -> list[Observation]:
        """``component``'s observations with ``since <= at < until`` (Unix seconds), oldest first;
        only those of ``mode`` / ``error_kind`` when given."""
        columns = [_TABLE.c[name] for name in _FIELDS]
        conditions = _filters(component, since, until, mode)
        if error_kind is not None:
            conditions.append(_TABLE.c.error_kind == str(error_kind))
        query = select(*columns).where(*conditions).order_by(_TABLE.c.at, _TABLE.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._store.read(timeout_s=self._store.bulk_timeout_s) as conn:
            rows = conn.execute(query).all()
        return [_observation(row) for row in rows]

    def count(
        self,
        component: str,
        *,
        since: float | None = None,
        until: float | None = None,
        mode: str | None = None,
        error_kind: str | None = None,
    ) -> int:
        """How many of ``component``'s observations match (same window rules as ``window``)."""
        conditions = _filters(component, since, until, mode)
        if error_kind is not None:
            conditions.append(_TABLE.c.error_kind == str(error_kind))
        with self._store.read(timeout_s=self._store.bulk_timeout_s) as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE).where(*conditions)).scalar_one())


    def tally(
        self, component: str, *, since: float | None = None, until: float | None = None
    ) -> dict[tuple[str, str, str], int]:
        """How many of ``component``'s observations per (mode, route, error kind), counted by the database."""
        keys = (_TABLE.c.mode, _TABLE.c.route, _TABLE.c.error_kind)
        query = select(*keys, func.count()).where(*_filters(component, since, until, None)).group_by(*keys)
        with self._store.read(timeout_s=self._store.bulk_timeout_s) as conn:
            return {(str(m), str(r), str(k)): int(n) for m, r, k, n in conn.execute(query)}




def _unavailable(store: Store, cause: object) -> StoreUnavailable:
    detail = " ".join(str(cause).split())
    return StoreUnavailable(f"state store {store.display_url} is unavailable: {detail}")


def _row(obs: Observation) -> dict[str, Any]:
    row = {name: getattr(obs, name) for name in _FIELDS}
    # Plain str for the enum values: drivers differ in how they adapt Enum subclasses.
    row["route"] = str(obs.route)
    row["error_kind"] = str(obs.error_kind)
    return row


def _observation(row: Sequence[Any]) -> Observation:
    values = dict(zip(_FIELDS, row, strict=True))
    values["route"] = Route(values["route"])
    values["error_kind"] = ErrorKind(values["error_kind"])
    return Observation(**values)


def _filters(
    component: str, since: float | None, until: float | None, mode: str | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_TABLE.c.component == str(component)]
    if since is not None:
        conditions.append(_TABLE.c.at >= since)
    if until is not None:
        conditions.append(_TABLE.c.at < until)
    if mode is not None:
        conditions.append(_TABLE.c.mode == str(mode))
    return conditions
