"""The one code path for gate decisions, whatever the channel: Prefect UI, CLI, Slack, console, demo.

``submit_decision`` checks that the gate is open and current, applies the gate's policy, records the
decision (first writer wins on the gate key), audits accepted and refused decisions alike, and then
resumes the paused Prefect run with the decision as its input. Prefect is imported lazily, only
when a run is resumed or its pause is checked.

A decision typed into the Prefect UI's resume form reaches the paused flow without passing here;
the flow routes it through ``submit_decision(resume=False)`` when it wakes, so the same policy and
the same records apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.domain.gates import (
    Channel,
    Decision,
    GateDecisionRecord,
    GateRequest,
    GateStatus,
    check_approver,
)
from runbook.errors import ApprovalRefused

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["ApprovalOutcome", "PauseInfo", "gate_base", "prior_approvers", "read_pause", "submit_decision"]

_ATTEMPT_SLOT = re.compile(r"[.-]a\d+[.-]s\d+$")
_STATUS_FOR = {Decision.APPROVE: GateStatus.APPROVED, Decision.REJECT: GateStatus.REJECTED}


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """What happened to a submitted decision.

    accepted: this call recorded the decision. already_decided: the gate had a decision already
    (a second click); nothing was resumed again. resumed: the Prefect run was resumed by this call.
    """

    accepted: bool
    already_decided: bool
    resumed: bool
    message: str
    record: GateDecisionRecord | None


@dataclass(frozen=True, slots=True)
class PauseInfo:
    """A flow run's current pause as Prefect reports it (``key`` None when the run is not paused)."""

    key: str | None
    expires_at: datetime | None
    state_name: str


def gate_base(key: str) -> str:
    """The part of a gate key shared by every attempt and approval slot of one gate."""
    return _ATTEMPT_SLOT.sub("", key)


def prior_approvers(records: list[GateDecisionRecord], key: str) -> set[str]:
    """Who already approved another slot or attempt of the gate ``key`` belongs to."""
    base = gate_base(key)
    return {
        r.approver
        for r in records
        if r.decision is Decision.APPROVE and r.gate_key != key and gate_base(r.gate_key) == base
    }


def submit_decision(
    store: Store,
    *,
    flow_run_id: str,
    gate_key: str,
    decision: Decision | str,
    approver: str,
    channel: Channel | str,
    comment: str = "",
    resume: bool = True,
) -> ApprovalOutcome:
    """Decide the gate ``gate_key`` of run ``flow_run_id`` for ``approver`` via ``channel``.

    Raises ApprovalRefused (after writing an audit row) when the gate does not exist, is no longer
    pending, is not the run's current pause (with ``resume``), or the gate's policy refuses
    ``approver``. A gate already decided returns ``already_decided=True`` and resumes nothing.
    """
    gates, audit = GateStore(store), AuditLog(store)
    context = _Context(flow_run_id, gate_key, str(decision), approver, str(channel), comment)
    try:
        decision, channel = _parse(decision, channel)
        request = _open_request(gates, flow_run_id, gate_key)
        existing = gates.decision(gate_key)
        if existing is not None:
            return _already_decided(audit, request, existing, context)
        _check_pending(request)
        if resume:
            _check_current_pause(flow_run_id, gate_key)
        check_approver(
            request.policy,
            approver=approver,
            initiator=request.initiator,
            prior_approvers=prior_approvers(gates.decisions_for_run(flow_run_id), gate_key),
        )
    except ApprovalRefused as exc:
        _audit(audit, context, component=_component_of(gates, gate_key), action="gate_decision_refused",
               reason=str(exc))
        raise
    record = GateDecisionRecord(
        flow_run_id=flow_run_id, gate_key=gate_key, decision=decision, approver=approver,
        channel=channel, at=datetime.now(UTC), comment=comment,
    )
    stored, written = gates.record_decision(record)
    if not written:
        return _already_decided(audit, request, stored, context)
    gates.set_status(gate_key, _STATUS_FOR[decision])
    _audit(audit, context, component=request.component, action=f"gate_{decision.value}",
           reason=comment or f"{decision.value} via {channel.value}")
    if not resume:
        return ApprovalOutcome(True, False, False, f"{decision.value} recorded for {gate_key}", stored)
    resumed, note = _resume(flow_run_id, stored)
    return ApprovalOutcome(True, False, resumed, note, stored)


# ---- checks -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Context:
    flow_run_id: str
    gate_key: str
    decision: str
    approver: str
    channel: str
    comment: str

    def evidence(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id, "gate_key": self.gate_key, "decision": self.decision,
            "approver": self.approver, "channel": self.channel, "comment": self.comment,
        }


def _parse(decision: Decision | str, channel: Channel | str) -> tuple[Decision, Channel]:
    try:
        parsed_decision, parsed_channel = Decision(decision), Channel(channel)
    except ValueError as exc:
        raise ApprovalRefused(f"{exc}; decisions: approve, reject; channels: "
                              + ", ".join(c.value for c in Channel)) from None
    if parsed_decision is Decision.TIMEOUT:
        raise ApprovalRefused("a person decides approve or reject; 'timeout' is recorded by the run itself")
    return parsed_decision, parsed_channel


def _open_request(gates: GateStore, flow_run_id: str, gate_key: str) -> GateRequest:
    request = gates.request(gate_key)
    if request is None:
        raise ApprovalRefused(f"no gate {gate_key!r}; `runbook gates` lists the pending ones")
    if request.flow_run_id != flow_run_id:
        raise ApprovalRefused(f"gate {gate_key!r} belongs to run {request.flow_run_id}, not {flow_run_id}")
    return request


def _check_pending(request: GateRequest) -> None:
    if request.status is not GateStatus.PENDING:
        raise ApprovalRefused(
            f"gate {request.gate_key!r} is {request.status.value}, no longer pending "
            "(a stale message or button)"
        )


def _check_current_pause(flow_run_id: str, gate_key: str) -> None:
    pause = read_pause(flow_run_id)
    if pause.key != gate_key:
        where = f"paused at {pause.key!r}" if pause.key else f"not paused (state {pause.state_name})"
        raise ApprovalRefused(f"gate {gate_key!r} is stale: run {flow_run_id} is {where}")
    if pause.expires_at is not None and pause.expires_at <= datetime.now(UTC):
        raise ApprovalRefused(f"gate {gate_key!r} timed out at {pause.expires_at.isoformat()}")


def _already_decided(
    audit: AuditLog, request: GateRequest, existing: GateDecisionRecord, context: _Context
) -> ApprovalOutcome:
    message = (
        f"gate {existing.gate_key!r} was already decided: {existing.decision.value} by "
        f"{existing.approver} via {existing.channel.value} at {existing.at.isoformat(timespec='seconds')}"
    )
    _audit(audit, context, component=request.component, action="gate_decision_duplicate", reason=message)
    return ApprovalOutcome(False, True, False, message, existing)


def _component_of(gates: GateStore, gate_key: str) -> str:
    request = gates.request(gate_key)
    if request is not None:
        return request.component
    parts = gate_key.split(".")
    return parts[1] if len(parts) > 1 else "unknown"


def _audit(audit: AuditLog, context: _Context, *, component: str, action: str, reason: str) -> None:
    audit.append(component=component, action=action, actor=context.approver or "unknown",
                 reason=reason, evidence=context.evidence())


# ---- Prefect ----------------------------------------------------------------------------------

def read_pause(flow_run_id: str) -> PauseInfo:
    """The run's current pause key and expiry, read from the Prefect API."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
    except Exception as exc:
        raise ApprovalRefused(f"cannot read run {flow_run_id} from Prefect: {exc}") from exc
    state = run.state
    if state is None or not state.is_paused():
        return PauseInfo(None, None, (state.name if state else None) or "unknown")
    details = state.state_details
    return PauseInfo(details.pause_key, details.pause_timeout, state.name or "Paused")


def _resume(flow_run_id: str, record: GateDecisionRecord) -> tuple[bool, str]:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.responses import SetStateStatus

    run_input = {
        "decision": record.decision.value, "approver": record.approver,
        "channel": record.channel.value, "comment": record.comment,
    }
    try:
        with get_client(sync_client=True) as client:
            response = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
    except Exception as exc:  # noqa: BLE001 - the decision is recorded; a failed resume is reported, not raised
        return False, f"{record.decision.value} recorded, but resuming run {flow_run_id} failed: {exc}"
    if response.status is not SetStateStatus.ACCEPT:
        reason = getattr(response.details, "reason", "") or response.status.value
        return False, f"{record.decision.value} recorded, but Prefect did not resume {flow_run_id}: {reason}"
    return True, f"{record.decision.value} recorded for {record.gate_key}; run {flow_run_id} resumed"
