"""Human gates inside phase flows: open the request, tell people, pause, judge the answer.

``run_gate`` is called from a flow body once every automated check passed. For each approval
slot (two on critical components) it stores a ``GateRequest``, notifies (Slack or console),
and pauses the run with ``pause_flow_run(wait_for_input=GateInput, key=<gate, attempt, slot>)``.
Answers sent by ``runbook approve`` / Slack are already recorded by the decision service
(``runbook.approvals``) when the run wakes; an answer typed into the Prefect UI's resume form is
judged by the same service here (without resuming), so every channel meets the same policy. A
refused UI answer is logged as a WARNING with its reason and re-opens the gate under the next
attempt's key, whose description starts with that reason (Prefect returns a used key's old answer).
While paused, the run delivers to itself a decision recorded whose resume failed. A pause that
times out fails the run in Prefect: the gate records a TIMEOUT and returns.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from prefect.input import RunInput
from pydantic import Field

from runbook.approvals import gate_base, resume_decided, submit_decision
from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.domain.components import AnyComponent
from runbook.domain.gates import (
    MAX_ACTOR_CHARS,
    Channel,
    Decision,
    GateDecisionRecord,
    GatePolicy,
    GateRequest,
    GateStatus,
    gate_key,
)
from runbook.errors import ApprovalRefused, UnknownGate
from runbook.orchestration.resume import PrefectResumer
from runbook.reports.markdown import gate_description

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.slack.notifier import Notifier

__all__ = ["GateAnswer", "GateInput", "GateSpec", "run_gate"]

TIMEOUT_APPROVER = "runbook"

log = logging.getLogger(__name__)


class GateInput(RunInput):
    """A gate's answer, from the Prefect UI's resume form or from ``runbook approve`` / Slack."""

    decision: Literal["approve", "reject"] = Field(
        title="Decision", description="approve moves on; reject stops the phase (and rolls back per the gate)"
    )
    approver: str = Field(title="Your user id", description="recorded in the audit log (a typed name: "
                          "counts on standard gates only unless configured otherwise)",
                          min_length=1, max_length=MAX_ACTOR_CHARS)
    comment: str = Field(default="", title="Comment", description="why (kept with the decision)",
                         max_length=2000)


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
    attempt, refusal = 1, ""
    while True:
        key = gate_key(flow_run_id=flow_run_id, phase=spec.phase, component=spec.component.value,
                       step=spec.step, attempt=attempt, slot=slot)
        remaining = deadline - time.monotonic()
        request = _open(gates, notifier, spec, key=key, flow_run_id=flow_run_id, slot=slot,
                        remaining=max(remaining, 0.0))
        outcome = _wait(store, request, spec, remaining=remaining, refusal=refusal) if remaining > 0 else None
        if outcome is None:
            expired = _timed_out(store, request)
            notifier.gate_decided(request, [expired])  # the message loses its buttons: nothing to click
            return expired
        if isinstance(outcome, GateDecisionRecord):
            base = gate_base(key)
            decided = [r for r in gates.decisions_for_run(flow_run_id) if gate_base(r.gate_key) == base]
            notifier.gate_decided(request, decided)
            return outcome
        refusal = outcome
        _run_logger().warning("gate %s: answer refused: %s", key, refusal)
        gates.set_status(key, GateStatus.SUPERSEDED)
        notifier.gate_superseded(request, refusal)
        attempt += 1


def _run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:  # outside a run (a direct call in a test): the module's logger
        return log


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


def _wait(
    store: Store, request: GateRequest, spec: GateSpec, *, remaining: float, refusal: str = ""
) -> GateDecisionRecord | str | None:
    """Pause for an answer: the recorded decision, the reason an answer was refused, or None when
    the pause timed out."""
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    description = gate_description(request, spec.run_url)
    if refusal:
        description = f"**Refused: {refusal}**\n\n{description}"
    form = GateInput.with_initial_data(description=description)
    try:
        with _DeliverRecorded(store, request, every_s=max(1, spec.poll_interval_s)):
            answer = pause_flow_run(
                wait_for_input=form, key=request.gate_key, timeout=max(1, math.ceil(remaining)),
                poll_interval=max(1, spec.poll_interval_s),
            )
    except FlowPauseTimeout:
        return None  # Prefect fails an expired pause: the run cannot go on, whatever arrives now
    gates = GateStore(store)
    recorded = gates.decision(request.gate_key)
    if recorded is not None:  # sent by the decision service (CLI, Slack, console, demo approver)
        gates.mark_resumed(request.gate_key)
        return recorded
    return _from_resume_form(store, request, answer)


def _from_resume_form(store: Store, request: GateRequest, answer: GateInput) -> GateDecisionRecord | str:
    """Judge an answer typed into the Prefect UI exactly as the CLI and Slack are judged."""
    try:
        outcome = submit_decision(
            store, flow_run_id=request.flow_run_id, gate_key=request.gate_key, decision=answer.decision,
            approver=answer.approver, channel=Channel.PREFECT_UI, comment=answer.comment,
        )
    except (ApprovalRefused, UnknownGate) as exc:
        return str(exc)  # the decision service audited the refusal with its reason
    if outcome.record is None:
        return outcome.message
    GateStore(store).mark_resumed(request.gate_key)
    return outcome.record


class _DeliverRecorded:
    """While the run is paused, deliver to it a decision recorded whose resume failed (retried every
    ``every_s`` seconds until the run resumes or the pause times out)."""

    def __init__(self, store: Store, request: GateRequest, *, every_s: float) -> None:
        self._store, self._request, self._every_s = store, request, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runbook-gate-delivery", daemon=True)

    def __enter__(self) -> _DeliverRecorded:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        resumer = PrefectResumer()
        while not self._stop.wait(self._every_s):
            try:
                record = GateStore(self._store).decision(self._request.gate_key)
                # A fresh decision is being delivered by whoever recorded it: leave it to them first.
                grace = timedelta(seconds=max(10.0, 5 * self._every_s))
                if record is not None and record.resumed_at is None and datetime.now(UTC) - record.at > grace:
                    resume_decided(self._store, flow_run_id=self._request.flow_run_id,
                                   gate_key=self._request.gate_key, resumer=resumer)
            except Exception:  # the store or the API is down for now: try again next time
                log.debug("delivery of gate %s failed; retrying", self._request.gate_key, exc_info=True)


def _timed_out(store: Store, request: GateRequest) -> GateDecisionRecord:
    """Record that the gate timed out, so every record agrees: request ``timed_out``, a ``gate_timeout``
    audit row, and a TIMEOUT decision unless a human decision was recorded but never reached the run
    (it stays, with no ``resumed_at``, and the audit row says so)."""
    gates = GateStore(store)
    record, written = gates.record_decision(GateDecisionRecord(
        flow_run_id=request.flow_run_id, gate_key=request.gate_key, decision=Decision.TIMEOUT,
        approver=TIMEOUT_APPROVER, channel=Channel.AUTOMATION, at=datetime.now(UTC),
        comment="nobody decided before the gate's timeout",
    ))
    gates.set_status(request.gate_key, GateStatus.TIMED_OUT)
    reason = f"gate {request.gate_key} timed out"
    if not written:
        reason += (f"; {record.decision.value} by {record.approver} was recorded but never reached the run "
                   "(nothing was promoted)")
    AuditLog(store).append(
        component=request.component, action="gate_timeout", actor=TIMEOUT_APPROVER, reason=reason,
        evidence={"gate_key": request.gate_key, "flow_run_id": request.flow_run_id,
                  "undelivered_decision": None if written else record.decision.value},
    )
    # The pause has expired in Prefect either way: the run cannot continue past this gate.
    return GateDecisionRecord(
        flow_run_id=record.flow_run_id, gate_key=record.gate_key, decision=Decision.TIMEOUT,
        approver=TIMEOUT_APPROVER, channel=Channel.AUTOMATION, at=record.at, comment=reason,
    )
