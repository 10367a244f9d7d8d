"""The decision service: the one code path for gate decisions, whatever the channel.

channel (Slack, CLI, signed CLI, Prefect UI form, console, demo) -> ``submit_decision`` (every rule;
no Prefect here) -> store (first writer wins on the gate key) -> ``RunResumer`` port (resumes the
paused run; ``runbook.orchestration.resume.PrefectResumer`` is the Prefect one).

``submit_decision`` checks that the gate exists and belongs to the run, that it is open and is the
run's current pause, applies the gate's policy (verified channel, allow-list, four eyes), records the
decision, audits accepted and refused decisions alike, and resumes the run. A decision recorded
whose resume failed is retried by the next call for that gate, by the paused run itself and by
``runbook resume``; ``resumed_at`` says when it landed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.control.nonces import SeenNonces
from runbook.domain.gates import (
    MAX_ACTOR_CHARS,
    Channel,
    Decision,
    GateDecisionRecord,
    GateRequest,
    GateStatus,
    check_approver,
)
from runbook.errors import ApprovalRefused, UnknownGate
from runbook.signatures import SignedMessage, decision_message, verify

if TYPE_CHECKING:
    from pathlib import Path

    from runbook.control.store import Store

__all__ = [
    "ApprovalOutcome", "PauseInfo", "RunResumer", "find_gate", "gate_base", "prior_approvers",
    "resume_decided", "submit_decision", "submit_signed_decision",
]

_ATTEMPT_SLOT = re.compile(r"[.-]a\d+[.-]s\d+$")
_STATUS_FOR = {Decision.APPROVE: GateStatus.APPROVED, Decision.REJECT: GateStatus.REJECTED}


@dataclass(frozen=True, slots=True)
class PauseInfo:
    """A flow run's current pause (``key`` None when the run is not paused)."""

    key: str | None
    expires_at: datetime | None
    state_name: str


class RunResumer(Protocol):
    """The port that reads a run's pause and resumes it with a decision (Prefect's fits)."""

    def current_pause(self, flow_run_id: str) -> PauseInfo: ...

    def resume(self, flow_run_id: str, run_input: Mapping[str, str]) -> tuple[bool, str]: ...


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """What happened to a submitted decision.

    accepted: this call recorded the decision. already_decided: the gate had a decision already.
    resumed: the run has the decision (resumed by this call or earlier). resume_failed: the decision
    is recorded but the run could not be resumed yet (it is retried; exit non-zero on the CLI).
    """

    accepted: bool
    already_decided: bool
    resumed: bool
    message: str
    record: GateDecisionRecord | None
    resume_failed: bool = False


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


def find_gate(gates: GateStore, *, flow_run_id: str, gate_key: str) -> GateRequest:
    """The gate ``gate_key`` of run ``flow_run_id``; UnknownGate when it is missing or another run's."""
    request = gates.request(gate_key)
    if request is None:
        raise UnknownGate(f"no gate {gate_key[:200]!r}; `runbook gates` lists the waiting ones")
    if request.flow_run_id != flow_run_id:
        raise UnknownGate(f"gate {gate_key!r} belongs to run {request.flow_run_id}, not {flow_run_id[:64]!r}")
    return request


def submit_decision(
    store: Store,
    *,
    flow_run_id: str,
    gate_key: str,
    decision: Decision | str,
    approver: str,
    channel: Channel | str,
    comment: str = "",
    resumer: RunResumer | None = None,
) -> ApprovalOutcome:
    """Decide the gate ``gate_key`` of run ``flow_run_id`` for ``approver`` via ``channel``.

    Raises UnknownGate or ApprovalRefused (after writing an audit row) when the gate is not this
    run's, is no longer pending, is not the run's current pause (with a ``resumer``), or its policy
    refuses ``approver`` via ``channel``. A gate already decided returns ``already_decided=True``;
    if that decision never reached the run, the resume is tried again. Without ``resumer`` the
    decision is only recorded (the paused run itself calls so for its resume form's answers).
    """
    gates, audit = GateStore(store), AuditLog(store)
    context = _Context(flow_run_id, gate_key, str(decision), approver, str(channel), comment)
    request: GateRequest | None = None
    try:
        parsed, via = _parse(decision, channel)
        request = find_gate(gates, flow_run_id=flow_run_id, gate_key=gate_key)
        existing = gates.decision(gate_key)
        if existing is not None:
            return _already_decided(store, request, existing, context, resumer)
        _check_pending(request)
        check_approver(request.policy, approver=approver, initiator=request.initiator, channel=via,
                       prior_approvers=prior_approvers(gates.decisions_for_run(flow_run_id), gate_key))
        if resumer is not None:
            _check_current_pause(resumer, flow_run_id, gate_key)
    except (ApprovalRefused, UnknownGate) as exc:
        # another run's gate: the refusal is still filed under that gate's component
        known = request or gates.request(gate_key[:200])
        _audit(audit, context, component=_component_of(known), action="gate_decision_refused",
               reason=str(exc))
        raise
    record = GateDecisionRecord(flow_run_id=flow_run_id, gate_key=gate_key, decision=parsed,
                                approver=approver, channel=via, at=datetime.now(UTC), comment=comment)
    stored, written = gates.record_decision(record)
    if not written:
        return _already_decided(store, request, stored, context, resumer)
    gates.set_status(gate_key, _STATUS_FOR[parsed])
    _audit(audit, context, component=request.component, action=f"gate_{parsed.value}",
           reason=comment or f"{parsed.value} via {via.value}")
    if resumer is None:
        return ApprovalOutcome(True, False, False, f"{parsed.value} recorded for {gate_key}", stored)
    resumed, note = _resume(gates, resumer, stored)
    return ApprovalOutcome(True, False, resumed, note, stored, resume_failed=not resumed)


def submit_signed_decision(
    store: Store,
    signed: SignedMessage,
    *,
    flow_run_id: str,
    gate_key: str,
    decision: Decision | str,
    comment: str = "",
    allowed_signers: Path | None,
    resumer: RunResumer | None = None,
    now: float | None = None,
) -> ApprovalOutcome:
    """``submit_decision`` for the principal whose SSH signature over this decision verifies.

    The signed text must name this run, gate and decision; the signature must verify against
    ``allowed_signers`` and be fresh; its nonce counts once (shared through the store).
    """
    context = _Context(flow_run_id, gate_key, str(decision), "unverified-signature", Channel.CLI_SIGNED.value,
                       comment)
    expected = decision_message(flow_run_id=flow_run_id, gate_key=gate_key, decision=str(decision),
                                nonce=signed.nonce, at=signed.at)
    try:
        if signed.text != expected:
            raise ApprovalRefused("the signed message does not name this run, gate and decision")
        principal = verify(signed, allowed_signers=allowed_signers, now=time.time() if now is None else now)
        if not SeenNonces(store).first_use(f"ssh:{signed.nonce}", channel=Channel.CLI_SIGNED.value):
            raise ApprovalRefused("this signed decision was already used (a replay)")
    except ApprovalRefused as exc:
        request = GateStore(store).request(gate_key)
        _audit(AuditLog(store), context, component=_component_of(request),
               action="gate_decision_refused", reason=str(exc))
        raise
    return submit_decision(store, flow_run_id=flow_run_id, gate_key=gate_key, decision=decision,
                           approver=principal, channel=Channel.CLI_SIGNED, comment=comment, resumer=resumer)


def resume_decided(store: Store, *, flow_run_id: str, gate_key: str, resumer: RunResumer) -> ApprovalOutcome:
    """Deliver the recorded decision of ``gate_key`` to its paused run (a retry after a failed resume)."""
    gates = GateStore(store)
    find_gate(gates, flow_run_id=flow_run_id, gate_key=gate_key)
    record = gates.decision(gate_key)
    if record is None or record.decision is Decision.TIMEOUT:
        raise ApprovalRefused(f"gate {gate_key!r} has no decision to deliver; approve or reject it first")
    if record.resumed_at is not None:
        return ApprovalOutcome(False, True, True, f"run {flow_run_id} already resumed with {record.decision}",
                               record)
    resumed, note = _deliver(gates, resumer, record)
    return ApprovalOutcome(False, True, resumed, note, record, resume_failed=not resumed)


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
            "flow_run_id": self.flow_run_id[:64], "gate_key": self.gate_key[:200],
            "decision": self.decision[:16],
            "approver": self.approver[:MAX_ACTOR_CHARS], "channel": self.channel[:32],
            "comment": self.comment[:2000],
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


def _check_pending(request: GateRequest) -> None:
    if request.status is not GateStatus.PENDING:
        raise ApprovalRefused(
            f"gate {request.gate_key!r} is {request.status.value}, no longer pending "
            "(a stale message or button)"
        )


def _check_current_pause(resumer: RunResumer, flow_run_id: str, gate_key: str) -> None:
    pause = resumer.current_pause(flow_run_id)
    if pause.key != gate_key:
        where = f"paused at {pause.key!r}" if pause.key else f"not paused (state {pause.state_name})"
        raise ApprovalRefused(f"gate {gate_key!r} is stale: run {flow_run_id} is {where}")
    if pause.expires_at is not None and pause.expires_at <= datetime.now(UTC):
        raise ApprovalRefused(f"gate {gate_key!r} timed out at {pause.expires_at.isoformat()}")


def _already_decided(
    store: Store, request: GateRequest, existing: GateDecisionRecord, context: _Context,
    resumer: RunResumer | None,
) -> ApprovalOutcome:
    message = (
        f"gate {existing.gate_key!r} was already decided: {existing.decision.value} by "
        f"{existing.approver} via {existing.channel.value} at {existing.at.isoformat(timespec='seconds')}"
    )
    _audit(AuditLog(store), context, component=request.component, action="gate_decision_duplicate",
           reason=message)
    if resumer is None or existing.resumed_at is not None or existing.decision is Decision.TIMEOUT:
        return ApprovalOutcome(False, True, existing.resumed_at is not None, message, existing)
    resumed, note = _deliver(GateStore(store), resumer, existing)
    return ApprovalOutcome(False, True, resumed, f"{message}; {note}", existing, resume_failed=not resumed)


def _deliver(gates: GateStore, resumer: RunResumer, record: GateDecisionRecord) -> tuple[bool, str]:
    """Resume the run with an earlier decision if the run still waits at that gate."""
    try:
        pause = resumer.current_pause(record.flow_run_id)
    except ApprovalRefused as exc:
        return False, str(exc)
    if pause.key != record.gate_key:
        where = f"paused at {pause.key!r}" if pause.key else f"not paused (state {pause.state_name})"
        return False, f"the decision was not delivered: run {record.flow_run_id} is {where}"
    return _resume(gates, resumer, record)


def _resume(gates: GateStore, resumer: RunResumer, record: GateDecisionRecord) -> tuple[bool, str]:
    run_input = {"decision": record.decision.value, "approver": record.approver, "comment": record.comment}
    resumed, note = resumer.resume(record.flow_run_id, run_input)
    if not resumed:
        resumed = _delivered_meanwhile(resumer, record)
    if resumed:
        gates.mark_resumed(record.gate_key)
        return True, (f"{record.decision.value} recorded for {record.gate_key}; "
                      f"run {record.flow_run_id} resumed")
    return False, (f"{record.decision.value} recorded, but resuming run {record.flow_run_id} failed: {note}; "
                   f"it is retried; `runbook resume {record.flow_run_id} --gate {record.gate_key}` "
                   "retries now")


def _delivered_meanwhile(resumer: RunResumer, record: GateDecisionRecord) -> bool:
    """True when the run left this gate and went on: another deliverer (the paused run itself) won."""
    try:
        pause = resumer.current_pause(record.flow_run_id)
    except ApprovalRefused:
        return False
    # Paused at a later gate, or running on: the run has left this gate with the decision.
    return pause.key != record.gate_key and (pause.key is not None or pause.state_name == "Running")


def _component_of(request: GateRequest | None) -> str:
    return request.component if request is not None else "unknown"


def _audit(audit: AuditLog, context: _Context, *, component: str, action: str, reason: str) -> None:
    audit.append(component=component, action=action, actor=(context.approver or "unknown")[:MAX_ACTOR_CHARS],
                 reason=reason[:2000], evidence=context.evidence())
