"""Observations: one row per routed call, written in bulk by the runtime's background recorder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, func, insert, select

from runbook.control.models import ObservationRow
from runbook.domain.observation import ErrorKind, Observation, Route

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["ObservationStore"]

_TABLE = cast(Table, ObservationRow.__table__)
_FIELDS = tuple(f.name for f in fields(Observation))
_ENUM_FIELDS = ("route", "error_kind")


class ObservationStore:
    """Bulk writer and windowed reader of the ``observations`` table.

    ``write_batch`` is a single executemany through SQLAlchemy Core (no ORM objects), outside the
    control plane's writer lock, so ingest never waits on a mode change.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def write_batch(self, observations: Sequence[Observation]) -> int:
        """Insert ``observations`` in one transaction; return how many rows were written."""
        if not observations:
            return 0
        rows = [_row(obs) for obs in observations]
        with self._store.write(exclusive=False) as conn:
            conn.execute(insert(_TABLE), rows)
        return len(rows)

    def window(
        self,
        component: str,
        *,
        since: float,
        until: float | None = None,
        mode: str | None = None,
        limit: int | None = None,
    ) -> list[Observation]:
        """``component``'s observations with ``since <= at < until`` (Unix seconds), oldest first."""
        columns = [_TABLE.c[name] for name in _FIELDS]
        query = select(*columns).where(*_filters(component, since, until, mode)).order_by(
            _TABLE.c.at, _TABLE.c.id
        )
        if limit is not None:
            query = query.limit(limit)
        with self._store.read() as conn:
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
        with self._store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE).where(*conditions)).scalar_one())


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
