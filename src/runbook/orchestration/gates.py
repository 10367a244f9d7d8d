"""Human gates inside phase flows: open the request, tell people, pause, judge the answer.

``run_gate`` is called from a flow body once every automated check passed. For each approval
slot (two on critical components) it stores a ``GateRequest``, notifies (Slack or console),
and pauses the run with ``pause_flow_run(wait_for_input=GateInput, key=<gate, attempt, slot>)``.
Answers sent by ``runbook approve`` / Slack are already recorded by ``submit_decision`` when the
run wakes; an answer typed into the Prefect UI's resume form is routed through
``submit_decision(resume=False)`` here, so every channel meets the same policy. A refused UI
answer re-opens the gate under the next attempt's key (Prefect returns a used key's old answer).
A pause that times out fails the run in Prefect: the gate records a TIMEOUT decision and returns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from prefect.input import RunInput
from pydantic import Field

from runbook.approvals import gate_base, submit_decision
from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.domain.components import AnyComponent
from runbook.domain.gates import (
    Channel,
    Decision,
    GateDecisionRecord,
    GatePolicy,
    GateRequest,
    GateStatus,
    gate_key,
)
from runbook.errors import ApprovalRefused
from runbook.reports.markdown import gate_description

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.slack.notifier import Notifier

__all__ = ["GateAnswer", "GateInput", "GateSpec", "run_gate"]

TIMEOUT_APPROVER = "runbook"


class GateInput(RunInput):
    """A gate's answer, from the Prefect UI's resume form or from ``runbook approve`` / Slack."""

    decision: Literal["approve", "reject"] = Field(description="approve moves on; reject stops the phase")
    approver: str = Field(description="your user id, recorded in the audit log", min_length=1)
    channel: str = Field(default=Channel.PREFECT_UI.value, description="set by runbook; leave as is")
    comment: str = Field(default="", description="why (kept with the decision)")


@dataclass(frozen=True, slots=True)
class GateSpec:
    """One gate of a phase: what is asked, of whom, with which evidence, for how long.

    ``step`` is key-safe (no dots); ``timeout_s`` covers every slot and attempt together;
    ``poll_interval_s`` is how often the paused run looks for an answer.
    """

    phase: str
    component: AnyComponent
    step: str
    title: str
    evidence: Mapping[str, object]
    policy: GatePolicy
    initiator: str | None
    timeout_s: float
    poll_interval_s: int = 10
    run_url: str = ""


@dataclass(frozen=True, slots=True)
class GateAnswer:
    """The gate's outcome and every decision recorded on the way (one per slot, or the timeout)."""

    decision: Decision
    records: tuple[GateDecisionRecord, ...] = field(default_factory=tuple)
    gate: str = ""

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(r.approver for r in self.records if r.decision is Decision.APPROVE)


def run_gate(store: Store, notifier: Notifier, spec: GateSpec, *, flow_run_id: str) -> GateAnswer:
    """Ask the gate's approvers and wait; APPROVE only when every slot approved in time."""
    deadline = time.monotonic() + spec.timeout_s
    records: list[GateDecisionRecord] = []
    for slot in range(1, spec.policy.required_approvals + 1):
        record = _decide_slot(store, notifier, spec, flow_run_id=flow_run_id, slot=slot, deadline=deadline)
        records.append(record)
        if record.decision is not Decision.APPROVE:
            return GateAnswer(record.decision, tuple(records), spec.step)
    return GateAnswer(Decision.APPROVE, tuple(records), spec.step)


def _decide_slot(
    store: Store, notifier: Notifier, spec: GateSpec, *, flow_run_id: str, slot: int, deadline: float
) -> GateDecisionRecord:
    gates = GateStore(store)
    attempt = 1
    while True:
        key = gate_key(flow_run_id=flow_run_id, phase=spec.phase, component=spec.component.value,
                       step=spec.step, attempt=attempt, slot=slot)
        remaining = deadline - time.monotonic()
        request = _open(gates, notifier, spec, key=key, flow_run_id=flow_run_id, slot=slot,
                        remaining=max(remaining, 0.0))
        record = _wait(store, request, spec, remaining=remaining) if remaining > 0 else None
        if record is None:
            return _timed_out(store, request)
        if record is not _REFUSED:
            base = gate_base(key)
            decided = [r for r in gates.decisions_for_run(flow_run_id) if gate_base(r.gate_key) == base]
            notifier.gate_decided(request, decided)
            return record
        gates.set_status(key, GateStatus.SUPERSEDED)
        attempt += 1


def _open(
    gates: GateStore, notifier: Notifier, spec: GateSpec, *, key: str, flow_run_id: str, slot: int,
    remaining: float,
) -> GateRequest:
    now = datetime.now(UTC)
    slots = spec.policy.required_approvals
    title = spec.title if slots == 1 else f"{spec.title} (approval {slot} of {slots})"
    request = GateRequest(
        gate_key=key, flow_run_id=flow_run_id, component=spec.component.value, phase=spec.phase,
        title=title, critical=slots > 1, policy=spec.policy, initiator=spec.initiator,
        evidence=dict(spec.evidence), created_at=now, expires_at=now + timedelta(seconds=remaining),
    )
    gates.open_request(request)
    notifier.gate_requested(request, run_url=spec.run_url)
    return request


# Marks an answer the gate's policy refused: the gate re-opens under the next attempt's key.
_REFUSED = GateDecisionRecord(
    flow_run_id="", gate_key="", decision=Decision.REJECT, approver="", channel=Channel.PREFECT_UI,
    at=datetime.fromtimestamp(0, UTC),
)


def _wait(
    store: Store, request: GateRequest, spec: GateSpec, *, remaining: float
) -> GateDecisionRecord | None:
    """Pause for an answer: the recorded decision, ``_REFUSED``, or None when the pause timed out."""
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    form = GateInput.with_initial_data(description=gate_description(request, spec.run_url))
    try:
        answer = pause_flow_run(
            wait_for_input=form, key=request.gate_key, timeout=max(1, math.ceil(remaining)),
            poll_interval=max(1, spec.poll_interval_s),
        )
    except FlowPauseTimeout:
        return None  # Prefect fails an expired pause: the run cannot go on, whatever arrives now
    recorded = GateStore(store).decision(request.gate_key)
    if recorded is not None:  # sent by submit_decision (CLI, Slack, console, demo approver)
        return recorded
    return _from_resume_form(store, request, answer)


def _from_resume_form(store: Store, request: GateRequest, answer: GateInput) -> GateDecisionRecord:
    """Judge an answer typed into the Prefect UI exactly as the CLI and Slack are judged."""
    try:
        outcome = submit_decision(
            store, flow_run_id=request.flow_run_id, gate_key=request.gate_key, decision=answer.decision,
            approver=answer.approver, channel=Channel.PREFECT_UI, comment=answer.comment, resume=False,
        )
    except ApprovalRefused:
        return _REFUSED  # submit_decision audited the refusal with its reason
    return outcome.record or _REFUSED


def _timed_out(store: Store, request: GateRequest) -> GateDecisionRecord:
    """Record that nobody decided in time (unless a decision won the race) and audit it."""
    gates = GateStore(store)
    record, written = gates.record_decision(GateDecisionRecord(
        flow_run_id=request.flow_run_id, gate_key=request.gate_key, decision=Decision.TIMEOUT,
        approver=TIMEOUT_APPROVER, channel=Channel.AUTOMATION, at=datetime.now(UTC),
        comment="nobody decided before the gate's timeout",
    ))
    gates.set_status(request.gate_key, GateStatus.TIMED_OUT)
    if written:
        AuditLog(store).append(
            component=request.component, action="gate_timeout", actor=TIMEOUT_APPROVER,
            reason=f"gate {request.gate_key} timed out", evidence={"gate_key": request.gate_key,
                                                                   "flow_run_id": request.flow_run_id},
        )
    # The pause has expired in Prefect either way: the run cannot continue past this gate.
    return GateDecisionRecord(
        flow_run_id=record.flow_run_id, gate_key=record.gate_key, decision=Decision.TIMEOUT,
        approver=record.approver, channel=record.channel, at=record.at, comment=record.comment,
    )
