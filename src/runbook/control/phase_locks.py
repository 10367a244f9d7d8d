"""Who holds each component's phase lock: the flow run recorded when it took the Prefect slot.

Prefect's global concurrency limit counts slots but forgets who holds them when its server
restarts (leases live in the server's memory); this table remembers the holder and its lease, so
a slot left by a run that is no longer running can be reclaimed, by exactly one claimant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, delete, insert, select, update

from runbook.control._time import as_utc, utc_now
from runbook.control.models import PhaseLockRow

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["PhaseLockHolder", "PhaseLocks"]

_LOCKS = cast(Table, PhaseLockRow.__table__)


@dataclass(frozen=True, slots=True)
class PhaseLockHolder:
    """The run holding (or that last held) a component's phase lock, its Prefect lease, since when."""

    component: str
    flow_run_id: str
    phase: str
    lease_id: str | None
    acquired_at: datetime
    renewed_at: datetime

    def silent_for(self, now: datetime) -> float:
        """Seconds since the holder's last heartbeat."""
        return (now - self.renewed_at).total_seconds()


class PhaseLocks:
    """Reads and writes ``phase_locks``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, component: str, *, flow_run_id: str, phase: str, lease_id: str | None) -> None:
        """Remember that ``flow_run_id`` holds ``component``'s lock (replacing the last holder)."""
        with self._store.write(exclusive=False) as conn:
            conn.execute(delete(_LOCKS).where(_LOCKS.c.component == component))
            now = utc_now()
            conn.execute(insert(_LOCKS).values(component=component, flow_run_id=flow_run_id, phase=phase,
                                               lease_id=lease_id, acquired_at=now, renewed_at=now))

    def heartbeat(self, component: str, *, flow_run_id: str, at: datetime | None = None) -> None:
        """The holder is alive (its process still runs the phase)."""
        with self._store.write(exclusive=False) as conn:
            mine = (_LOCKS.c.component == component) & (_LOCKS.c.flow_run_id == flow_run_id)
            conn.execute(update(_LOCKS).where(mine).values(renewed_at=at or utc_now()))

    def holder(self, component: str) -> PhaseLockHolder | None:
        """The recorded holder of ``component``'s lock, or None."""
        with self._store.read() as conn:
            row = conn.execute(select(_LOCKS).where(_LOCKS.c.component == component)).mappings().first()
        if row is None:
            return None
        return PhaseLockHolder(row["component"], row["flow_run_id"], row["phase"], row["lease_id"],
                               as_utc(row["acquired_at"]) or utc_now(),
                               as_utc(row["renewed_at"]) or utc_now())

    def take_over(self, component: str, *, dead_flow_run_id: str) -> bool:
        """Forget the dead holder; True for exactly one caller (the one that reclaims its slot)."""
        with self._store.write(exclusive=False) as conn:
            removed = conn.execute(delete(_LOCKS).where(_LOCKS.c.component == component,
                                                        _LOCKS.c.flow_run_id == dead_flow_run_id)).rowcount
        return bool(removed)
