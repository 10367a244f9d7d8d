"""The append-only audit log: every control-plane change and decision, chained by SHA-256.

Each row stores ``prev_hash`` (the previous row's ``row_hash``; 64 zeros for the first row) and
``row_hash = sha256(canonical JSON of the row's content + prev_hash)``. Editing a row breaks its own
hash; deleting or re-inserting a row breaks the link of the row after it. Appends run inside the
store's exclusive write transaction, so two writers can never chain onto the same row. (Truncating
the newest rows leaves a valid shorter chain; keep an external copy of the head hash to detect it.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, insert, select

from runbook.control._chain import GENESIS_HASH, canonical_evidence, float_or_none, row_digest
from runbook.control._time import as_utc, utc_now
from runbook.control.models import AuditRow
from runbook.errors import AuditChainBroken

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["GENESIS_HASH", "AuditEntry", "AuditLog", "append_entry", "canonical_evidence", "row_digest"]

_TABLE = cast(Table, AuditRow.__table__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row. Fractions are candidate traffic shares in [0, 1]; ``at`` is UTC."""

    id: int
    at: datetime
    component: str
    action: str
    actor: str
    from_mode: str | None
    to_mode: str | None
    from_fraction: float | None
    to_fraction: float | None
    epoch: int | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    row_hash: str = ""


def append_entry(
    conn: Connection,
    *,
    component: str,
    action: str,
    actor: str,
    reason: str = "",
    evidence: Mapping[str, Any] | None = None,
    from_mode: str | None = None,
    to_mode: str | None = None,
    from_fraction: float | None = None,
    to_fraction: float | None = None,
    epoch: int | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one row on ``conn``, which must hold the store's exclusive write transaction."""
    prev = conn.execute(select(_TABLE.c.row_hash).order_by(_TABLE.c.id.desc()).limit(1)).scalar()
    row: dict[str, Any] = {
        "at": at or utc_now(),
        "component": str(component),
        "action": action,
        "actor": actor,
        "from_mode": None if from_mode is None else str(from_mode),
        "to_mode": None if to_mode is None else str(to_mode),
        "from_fraction": float_or_none(from_fraction),
        "to_fraction": float_or_none(to_fraction),
        "epoch": epoch,
        "reason": reason or "",
        "evidence": canonical_evidence(evidence),
        "prev_hash": prev or GENESIS_HASH,
    }
    row["row_hash"] = row_digest(row, row["prev_hash"])
    new_id = conn.execute(insert(_TABLE).values(**row).returning(_TABLE.c.id)).scalar_one()
    return _entry({**row, "id": new_id})


class AuditLog:
    """Reads, appends to and verifies the audit hash chain of a store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(
        self,
        *,
        component: str,
        action: str,
        actor: str,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        from_mode: str | None = None,
        to_mode: str | None = None,
        from_fraction: float | None = None,
        to_fraction: float | None = None,
        epoch: int | None = None,
    ) -> AuditEntry:
        """Append a non-state event (gate decision, refused click, monitor verdict) in its own
        transaction. Fractions are candidate traffic shares in [0, 1]."""
        with self._store.write() as conn:
            return append_entry(
                conn,
                component=component,
                action=action,
                actor=actor,
                reason=reason,
                evidence=evidence,
                from_mode=from_mode,
                to_mode=to_mode,
                from_fraction=from_fraction,
                to_fraction=to_fraction,
                epoch=epoch,
            )

    def entries(self, *, component: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` rows (all when None), oldest first; only ``component``'s if given."""
        query = select(_TABLE).order_by(_TABLE.c.id.desc())
        if component is not None:
            query = query.where(_TABLE.c.component == component)
        if limit is not None:
            query = query.limit(limit)
        with self._store.read(timeout_s=self._store.bulk_timeout_s) as conn:
            rows = conn.execute(query).mappings().all()
        return [_entry(row) for row in reversed(rows)]

    def head(self) -> str:
        """The newest row's hash (GENESIS_HASH when empty): keep a copy to detect truncation."""
        with self._store.read(timeout_s=self._store.bulk_timeout_s) as conn:
            prev = conn.execute(select(_TABLE.c.row_hash).order_by(_TABLE.c.id.desc()).limit(1)).scalar()
        return prev or GENESIS_HASH

    def verify(self) -> int:
        """Walk the whole chain; return the number of rows verified.

        Raises AuditChainBroken naming the first row whose content does not match its hash (an
        edited row) or whose ``prev_hash`` does not match the row before it (a deleted row).
        """
        count, prev_hash, prev_id = 0, GENESIS_HASH, None
        with self._store.read(timeout_s=self._store.bulk_timeout_s) as conn:
            result = conn.execution_options(yield_per=2000).execute(select(_TABLE).order_by(_TABLE.c.id))
            for row in result.mappings():
                _check_row(row, prev_hash, prev_id)
                count, prev_hash, prev_id = count + 1, row["row_hash"], row["id"]
        return count


def _check_row(row: Mapping[Any, Any], prev_hash: str, prev_id: int | None) -> None:
    if row["prev_hash"] != prev_hash:
        before = "the start of the log" if prev_id is None else f"row {prev_id}"
        raise AuditChainBroken(
            f"audit chain broken at row {row['id']}: its prev_hash does not match {before} "
            "(a row between them was deleted, or a row was re-hashed after editing)",
            row_id=row["id"],
        )
    if row_digest(row, row["prev_hash"]) != row["row_hash"]:
        raise AuditChainBroken(
            f"audit chain broken at row {row['id']}: its content does not match its row_hash "
            "(the row was edited after it was written)",
            row_id=row["id"],
        )


def _entry(row: Mapping[Any, Any]) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=as_utc(row["at"]) or utc_now(),
        component=row["component"],
        action=row["action"],
        actor=row["actor"],
        from_mode=row["from_mode"],
        to_mode=row["to_mode"],
        from_fraction=float_or_none(row["from_fraction"]),
        to_fraction=float_or_none(row["to_fraction"]),
        epoch=row["epoch"],
        reason=row["reason"] or "",
        evidence=json.loads(row["evidence"] or "{}"),
        prev_hash=row["prev_hash"],
        row_hash=row["row_hash"],
    )
