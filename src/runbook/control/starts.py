"""Verified starts: a phase start proven by a verified channel, claimed once by the run it starts.

A signed ``runbook start`` or a Slack ``/runbook`` command issues a ticket naming the phase, the
component and the verified principal; the flow run claims it when it begins, which binds the
ticket to that run. A ticket is claimed once, for its own phase and component, while fresh.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, insert, select, update

from runbook.control._time import as_utc, utc_now
from runbook.control.models import VerifiedStartRow
from runbook.errors import ApprovalRefused

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["VerifiedStart", "VerifiedStarts"]

_STARTS = cast(Table, VerifiedStartRow.__table__)
TICKET_TTL_S = 600.0  # a start ticket must be claimed within ten minutes


@dataclass(frozen=True, slots=True)
class VerifiedStart:
    """Who started which phase of which component, through which verified channel."""

    ticket: str
    phase: str
    component: str
    principal: str
    channel: str
    created_at: datetime
    flow_run_id: str | None = None


class VerifiedStarts:
    """Issues and claims start tickets in ``verified_starts``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def issue(self, *, phase: str, component: str, principal: str, channel: str) -> str:
        """A new ticket for ``principal``'s verified start of ``phase`` on ``component``."""
        ticket = secrets.token_urlsafe(24)
        with self._store.write(exclusive=False) as conn:
            conn.execute(insert(_STARTS).values(ticket=ticket, phase=phase, component=component,
                                                principal=principal[:128], channel=channel,
                                                created_at=utc_now()))
        return ticket

    def claim(self, ticket: str, *, flow_run_id: str, phase: str, component: str) -> VerifiedStart:
        """Bind ``ticket`` to ``flow_run_id``; ApprovalRefused when it is unknown, stale, for another
        phase or component, or already claimed by another run (re-claiming by the same run is fine)."""
        start = self._read(ticket)
        if start is None:
            raise ApprovalRefused("the start ticket is unknown")
        if (start.phase, start.component) != (phase, component):
            raise ApprovalRefused(f"the start ticket is for {start.phase} of {start.component}, "
                                  f"not {phase} of {component}")
        if start.flow_run_id not in (None, flow_run_id):
            raise ApprovalRefused(f"the start ticket was already used by run {start.flow_run_id}")
        if start.flow_run_id is None and utc_now() - start.created_at > timedelta(seconds=TICKET_TTL_S):
            raise ApprovalRefused(f"the start ticket expired (older than {TICKET_TTL_S:g} s)")
        with self._store.write(exclusive=False) as conn:
            claimed = conn.execute(
                update(_STARTS).where(_STARTS.c.ticket == ticket, _STARTS.c.flow_run_id.is_(None))
                .values(flow_run_id=flow_run_id, claimed_at=utc_now())
            ).rowcount
        if not claimed and start.flow_run_id != flow_run_id:
            again = self._read(ticket)
            if again is None or again.flow_run_id != flow_run_id:
                raise ApprovalRefused("the start ticket was claimed by another run at the same time")
        return VerifiedStart(start.ticket, start.phase, start.component, start.principal, start.channel,
                             start.created_at, flow_run_id)

    def _read(self, ticket: str) -> VerifiedStart | None:
        with self._store.read() as conn:
            row = conn.execute(select(_STARTS).where(_STARTS.c.ticket == ticket)).mappings().first()
        if row is None:
            return None
        return VerifiedStart(row["ticket"], row["phase"], row["component"], row["principal"], row["channel"],
                             as_utc(row["created_at"]) or utc_now(), row["flow_run_id"])
