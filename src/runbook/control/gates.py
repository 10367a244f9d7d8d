"""Gate requests (what a paused run waits for) and gate decisions (first writer wins)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from runbook.control._time import as_utc, utc_now
from runbook.control.models import GateDecisionRow, GateRequestRow
from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GatePolicy, GateRequest, GateStatus
from runbook.errors import BadParameter

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["GateStore"]

_REQUESTS = cast(Table, GateRequestRow.__table__)
_DECISIONS = cast(Table, GateDecisionRow.__table__)


class GateStore:
    """Reads and writes ``gate_requests`` and ``gate_decisions``.

    A gate key has at most one decision: ``record_decision`` relies on the unique constraint, so
    when Slack, the CLI and the Prefect UI answer at once exactly one of them is stored.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def open_request(self, request: GateRequest) -> None:
        """Store a new gate request; re-opening the same key (a task retry) keeps the first one."""
        try:
            with self._store.write(exclusive=False) as conn:
                conn.execute(insert(_REQUESTS).values(**_request_row(request)))
        except IntegrityError:
            if self.request(request.gate_key) is None:
                raise

    def request(self, gate_key: str) -> GateRequest | None:
        """The request stored under ``gate_key``, or None."""
        with self._store.read() as conn:
            row = conn.execute(select(_REQUESTS).where(_REQUESTS.c.gate_key == gate_key)).mappings().first()
        return None if row is None else _request(row)

    def set_slack_message(self, gate_key: str, channel: str, ts: str) -> None:
        """Remember the Slack message that shows the gate (to update it once decided)."""
        self._update_request(gate_key, slack_channel=channel, slack_ts=ts)

    def set_status(self, gate_key: str, status: GateStatus) -> None:
        """Set the request's status (pending, approved, rejected, timed_out)."""
        self._update_request(gate_key, status=GateStatus(status).value)

    def record_decision(self, record: GateDecisionRecord) -> tuple[GateDecisionRecord, bool]:
        """Store ``record`` unless the gate already has a decision.

        Returns (the stored decision, True if this call wrote it). The first writer wins.
        """
        try:
            with self._store.write(exclusive=False) as conn:
                conn.execute(insert(_DECISIONS).values(**_decision_row(record)))
        except IntegrityError:
            stored = self.decision(record.gate_key)
            if stored is None:
                raise
            return stored, False
        return record, True

    def decision(self, gate_key: str) -> GateDecisionRecord | None:
        """The decision stored for ``gate_key``, or None."""
        query = select(_DECISIONS).where(_DECISIONS.c.gate_key == gate_key)
        with self._store.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _decision(row)

    def decisions_for_run(self, flow_run_id: str) -> list[GateDecisionRecord]:
        """Every decision of a flow run, in the order they were stored."""
        query = select(_DECISIONS).where(_DECISIONS.c.flow_run_id == flow_run_id).order_by(_DECISIONS.c.id)
        with self._store.read() as conn:
            return [_decision(row) for row in conn.execute(query).mappings()]

    def pending_for_run(self, flow_run_id: str) -> list[GateRequest]:
        """The run's requests still pending, oldest first."""
        query = (
            select(_REQUESTS)
            .where(_REQUESTS.c.flow_run_id == flow_run_id, _REQUESTS.c.status == GateStatus.PENDING.value)
            .order_by(_REQUESTS.c.created_at)
        )
        with self._store.read() as conn:
            return [_request(row) for row in conn.execute(query).mappings()]

    def mark_resumed(self, gate_key: str) -> None:
        """Note that the decision on ``gate_key`` reached its run (the run resumed with it)."""
        with self._store.write(exclusive=False) as conn:
            conn.execute(update(_DECISIONS).where(_DECISIONS.c.gate_key == gate_key,
                                                  _DECISIONS.c.resumed_at.is_(None)).values(resumed_at=utc_now()))

    def not_resumed(self, *, flow_run_id: str | None = None) -> list[GateDecisionRecord]:
        """Human decisions recorded but not yet acted on by their run, oldest first."""
        query = select(_DECISIONS).where(_DECISIONS.c.resumed_at.is_(None),
                                         _DECISIONS.c.decision != Decision.TIMEOUT.value)
        if flow_run_id is not None:
            query = query.where(_DECISIONS.c.flow_run_id == flow_run_id)
        with self._store.read() as conn:
            return [_decision(row) for row in conn.execute(query.order_by(_DECISIONS.c.id)).mappings()]

    def _update_request(self, gate_key: str, **values: Any) -> None:
        with self._store.write(exclusive=False) as conn:
            result = conn.execute(update(_REQUESTS).where(_REQUESTS.c.gate_key == gate_key).values(**values))
            if result.rowcount == 0:
                raise BadParameter(f"no gate request with key {gate_key!r}")


def _request_row(request: GateRequest) -> dict[str, Any]:
    return {
        "gate_key": request.gate_key,
        "flow_run_id": request.flow_run_id,
        "component": request.component,
        "phase": request.phase,
        "title": request.title,
        "critical": request.critical,
        "required_approvals": request.policy.required_approvals,
        "allowed_approvers": json.dumps(sorted(request.policy.allowed_approvers)),
        "forbid_initiator": request.policy.forbid_initiator,
        "verified_only": request.policy.verified_only,
        "initiator": request.initiator,
        "evidence": json.dumps(dict(request.evidence), sort_keys=True, default=str),
        "status": GateStatus(request.status).value,
        "created_at": request.created_at or utc_now(),
        "expires_at": request.expires_at,
        "slack_channel": request.slack_channel,
        "slack_ts": request.slack_ts,
    }


def _request(row: Mapping[Any, Any]) -> GateRequest:
    policy = GatePolicy(
        required_approvals=int(row["required_approvals"]),
        allowed_approvers=frozenset(json.loads(row["allowed_approvers"] or "[]")),
        forbid_initiator=bool(row["forbid_initiator"]),
        verified_only=bool(row["verified_only"]),
    )
    return GateRequest(
        gate_key=row["gate_key"],
        flow_run_id=row["flow_run_id"],
        component=row["component"],
        phase=row["phase"],
        title=row["title"] or "",
        critical=bool(row["critical"]),
        policy=policy,
        initiator=row["initiator"],
        evidence=json.loads(row["evidence"] or "{}"),
        created_at=as_utc(row["created_at"]) or utc_now(),
        expires_at=as_utc(row["expires_at"]),
        status=GateStatus(row["status"]),
        slack_channel=row["slack_channel"],
        slack_ts=row["slack_ts"],
    )


def _decision_row(record: GateDecisionRecord) -> dict[str, Any]:
    return {
        "flow_run_id": record.flow_run_id,
        "gate_key": record.gate_key,
        "decision": Decision(record.decision).value,
        "approver": record.approver,
        "channel": Channel(record.channel).value,
        "comment": record.comment or "",
        "at": record.at,
    }


def _decision(row: Mapping[Any, Any]) -> GateDecisionRecord:
    return GateDecisionRecord(
        flow_run_id=row["flow_run_id"],
        gate_key=row["gate_key"],
        decision=Decision(row["decision"]),
        approver=row["approver"],
        channel=Channel(row["channel"]),
        at=as_utc(row["at"]) or utc_now(),
        comment=row["comment"] or "",
        resumed_at=as_utc(row["resumed_at"]),
    )
