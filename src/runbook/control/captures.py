"""CaptureStore: the ``captured_requests`` table, requests kept for offline replay.

A router's ``RequestCapture`` (``runbook.runtime``) writes here from a background thread:

- reason ``mismatch``: a candidate answer served in canary or full that differed from legacy's
  beyond tolerance, with both answers (JSON text), the differences and why;
- reason ``sample``: a share of ordinary shadow-mode requests (``Router(sample_share=...)``).

The API is two calls::

    captures = CaptureStore(store)
    captures.write_captures([CapturedRequest(...), ...])      # -> rows written
    captures.captures("var_engine", since=t0, reason="sample", limit=1000)  # oldest first

``payload`` is the serialized request (``runbook.runtime.default_serializer`` writes
``{"args": [...], "kwargs": {...}}`` as JSON) or None when it was not kept (``detail`` says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, insert, select

from runbook.control.models import CapturedRequestRow
from runbook.domain.capture import CapturedRequest, CaptureReason

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["CaptureStore"]

_TABLE = cast(Table, CapturedRequestRow.__table__)
_FIELDS = tuple(f.name for f in fields(CapturedRequest))
_KEY_CHARS = 128  # the routing_key column width


class CaptureStore:
    """Writer and reader of ``captured_requests`` on a store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def write_captures(self, captures: Sequence[CapturedRequest]) -> int:
        """Insert ``captures`` in one transaction (outside the control plane's writer lock)."""
        if not captures:
            return 0
        rows = [_row(capture) for capture in captures]
        with self._store.write(exclusive=False) as conn:
            conn.execute(insert(_TABLE), rows)
        return len(rows)

    def captures(
        self,
        component: str,
        *,
        since: float | None = None,
        until: float | None = None,
        reason: str | None = None,
        limit: int | None = None,
    ) -> list[CapturedRequest]:
        """``component``'s captures with ``since <= at < until`` (Unix seconds), oldest first."""
        columns = (_TABLE.c[name] for name in _FIELDS)
        query = select(*columns).where(*_filters(component, since, until, reason))
        query = query.order_by(_TABLE.c.at, _TABLE.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._store.read() as conn:
            rows = conn.execute(query).all()
        return [_capture(row) for row in rows]

    def count(self, component: str, *, since: float | None = None, reason: str | None = None) -> int:
        """How many captures of ``component`` match."""
        query = select(func.count()).select_from(_TABLE).where(*_filters(component, since, None, reason))
        with self._store.read() as conn:
            return int(conn.execute(query).scalar_one())


def _filters(component: str, since: float | None, until: float | None, reason: str | None) -> list[Any]:
    conditions: list[Any] = [_TABLE.c.component == str(component)]
    if since is not None:
        conditions.append(_TABLE.c.at >= since)
    if until is not None:
        conditions.append(_TABLE.c.at < until)
    if reason is not None:
        conditions.append(_TABLE.c.reason == str(reason))
    return conditions


def _row(capture: CapturedRequest) -> dict[str, Any]:
    row = {name: getattr(capture, name) for name in _FIELDS}
    row["reason"] = str(capture.reason)  # plain str: drivers differ in how they adapt Enum subclasses
    row["routing_key"] = capture.routing_key[:_KEY_CHARS]
    return row


def _capture(row: Sequence[Any]) -> CapturedRequest:
    values = dict(zip(_FIELDS, row, strict=True))
    values["reason"] = CaptureReason(values["reason"])
    return CapturedRequest(**values)
