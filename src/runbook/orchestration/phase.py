"""One phase of one component, as a flow runs it: lock, log, gates, and how it ends.

``begin_phase`` holds the component's phase lock for the whole phase (paused gates included)
and yields a ``PhaseRun``; ``run.start()`` records ``phase_started`` once the entry checks passed.
The flow ends it with
``run.complete(...)`` or ``run.stop(decision)``; both write the outcome to the audit log (where
``migrate`` and the demo read it back, whatever Prefect did to the run) and publish the runbook
log artifact. ``stop`` applies a ROLLBACK itself, with the library only, because after a timed-out
pause Prefect has already failed the run and tasks may no longer start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from runbook.control.audit import AuditLog
from runbook.control.outcomes import PHASE_COMPLETED, PHASE_STARTED, PHASE_STOPPED
from runbook.domain.components import AnyComponent, is_critical
from runbook.domain.decisions import NextAction, PhaseDecision, StopKind
from runbook.domain.gates import UnverifiedChannels
from runbook.domain.plans import Phase, gate_policy
from runbook.errors import (
    AutomaticRollback,
    GateRejected,
    GateTimedOut,
    RunbookError,
    ValidationFailed,
)
from runbook.orchestration.artifacts import artifact_key, publish_markdown
from runbook.orchestration.context import PhaseContext, load_settings, open_store
from runbook.orchestration.events import emit_rolled_back
from runbook.orchestration.gates import GateAnswer, GateSpec, run_gate
from runbook.orchestration.locks import phase_lock
from runbook.orchestration.stops import one_line_stops
from runbook.reports.links import evidence_url
from runbook.reports.markdown import outcome_markdown

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.orchestration.params import GateOptions
    from runbook.settings import Settings
    from runbook.slack.notifier import Notifier

__all__ = ["PHASE_COMPLETED", "PHASE_STARTED", "PHASE_STOPPED", "PhaseRun", "begin_phase", "current_run"]

_ERRORS: dict[StopKind, type[RunbookError]] = {
    StopKind.CHECK_FAILED: ValidationFailed,
    StopKind.MONITOR_HOLD: ValidationFailed,
    StopKind.MONITOR_ROLLBACK: AutomaticRollback,
    StopKind.GATE_REJECTED: GateRejected,
    StopKind.GATE_TIMED_OUT: GateTimedOut,
}


def current_run() -> tuple[str, str]:
    """The current flow run's id and name."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("a phase runs inside a Prefect flow run")
    return str(context.flow_run.id), context.flow_run.name


@dataclass
class PhaseRun:
    """A phase in progress: who, what, where; the runbook log it keeps; how it asks and ends."""

    phase: Phase
    component: AnyComponent
    initiator: str
    settings: Settings
    store: Store
    notifier: Notifier
    flow_run_id: str
    flow_run_name: str
    initiator_channel: str = "typed"  # the verified channel that started the run, or "typed"
    log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def context(self) -> PhaseContext:
        """What this phase hands its tasks: its settings, store and notifier, and the wall clock."""
        return PhaseContext(self.settings, self.store, self.notifier)

    @property
    def actor(self) -> str:
        """Who state changes are attributed to: this phase's flow (approvers are in the evidence)."""
        return f"runbook/{self.phase.value}"

    @property
    def run_url(self) -> str:
        # No UI configured (e.g. Prefect's temporary server): no link rather than a dead one.
        if not self.settings.prefect_ui_url:
            return ""
        return f"{self.settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{self.flow_run_id}"

    @property
    def label(self) -> str:
        """The run as people name it: ``shadow of var_engine, run small-pheasant``."""
        return f"{self.phase.value} of {self.component.value}, run {self.flow_run_name}"

    @property
    def critical(self) -> bool:
        return is_critical(self.component)

    def start(self) -> None:
        """Record that the phase started (once its entry checks passed)."""
        AuditLog(self.store).append(component=self.component.value, action=PHASE_STARTED, actor=self.actor,
                                    reason=f"{self.phase.value} started by {self.initiator} "
                                           f"(via {self.initiator_channel})",
                                    evidence={"flow_run_id": self.flow_run_id,
                                              "flow_run_name": self.flow_run_name,
                                              "initiator": self.initiator,
                                              "initiator_channel": self.initiator_channel})

    def note(self, step: str, result: str, detail: str = "") -> None:
        """Add a line to the runbook log (artifact) and to the run's thread in Slack or the console."""
        self.log.append({"step": step, "result": result, "detail": detail})
        self.notifier.run_update(self.flow_run_id, f"{self.component.value} {self.phase.value}: "
                                                   f"{step} {result} {detail}".rstrip())

    def ask(self, *, step: str, title: str, evidence: Mapping[str, Any], options: GateOptions) -> GateAnswer:
        """Open the gate ``step`` and wait for its approvers (every automated check has passed)."""
        spec = GateSpec(
            phase=self.phase.value, component=self.component, step=step, title=title, evidence=evidence,
            policy=gate_policy(self.component, self.settings.approvers,
                               UnverifiedChannels(self.settings.unverified_channels)),
            initiator=self.initiator,
            timeout_s=options.timeout_s, poll_interval_s=options.poll_interval_s, run_url=self.run_url,
        )
        answer = run_gate(self.store, self.notifier, spec, flow_run_id=self.flow_run_id)
        who = ", ".join(f"{r.approver} via {r.channel.value}" for r in answer.records) or "nobody"
        self.note(f"gate {step}", answer.decision.value, who)
        return answer

    def complete(self, *, result: str, **evidence: Any) -> dict[str, Any]:
        """Record the phase as completed and return its outcome."""
        mode = self.store.state(self.component.value)
        outcome = self._outcome("completed", result=result, mode=mode.mode.value,
                                traffic_percent=mode.traffic_percent, **evidence)
        self._finish(PHASE_COMPLETED, outcome, reason=result)
        return outcome

    def stop(self, decision: PhaseDecision, **evidence: Any) -> NoReturn:
        """Stop the phase per ``decision`` (hold, or roll back), record why, and raise."""
        if decision.action is NextAction.ROLLBACK and decision.kind is not StopKind.MONITOR_ROLLBACK:
            self._roll_back(decision)
        state = self.store.state(self.component.value)
        status = "rolled_back" if decision.action is NextAction.ROLLBACK else "held"
        outcome = self._outcome(
            status, kind=decision.kind.value, check=decision.check, reason=decision.reason,
            mode=state.mode.value, traffic_percent=state.traffic_percent, **evidence,
        )
        self._finish(PHASE_STOPPED, outcome, reason=f"{decision.check}: {decision.reason}")
        where = f"{self.component.value} {self.phase.value}"
        raise _ERRORS.get(decision.kind, ValidationFailed)(
            f"{where} stopped ({status}) by {decision.check}: {decision.reason}"
        )

    def _roll_back(self, decision: PhaseDecision) -> None:
        from runbook.control.safety import ProductionSafetyManager

        reason = f"{self.phase.value} {decision.check}: {decision.reason}"
        evidence = {"flow_run_id": self.flow_run_id, "check": decision.check, "kind": decision.kind.value}
        ProductionSafetyManager(self.store, actor=self.actor).rollback_component(
            self.component.value, reason=reason, evidence=evidence
        )
        emit_rolled_back(self.component.value, source="gate", reason=reason, evidence=evidence)
        rejected = decision.kind is StopKind.GATE_REJECTED
        self.notifier.rollback_alert(self.component.value, reason=reason, evidence=evidence,
                                     automatic=not rejected,
                                     kind="Rollback after a human rejection" if rejected else None)

    def _outcome(self, status: str, **fields: Any) -> dict[str, Any]:
        return {"component": self.component.value, "phase": self.phase.value, "status": status,
                "flow_run_id": self.flow_run_id, "initiator": self.initiator, **fields}

    def _finish(self, action: str, outcome: dict[str, Any], *, reason: str) -> None:
        AuditLog(self.store).append(component=self.component.value, action=action, actor=self.actor,
                                    reason=reason, evidence=outcome)
        report = outcome.get("report")
        links = {"flow run": self.run_url,
                 "report": evidence_url(report, home=self.settings.home, base_url=self.settings.reports_url)
                 or ""}
        markdown = outcome_markdown(component=self.component.value, phase=self.phase.value,
                                    status=outcome["status"], check=str(outcome.get("check", "")),
                                    reason=str(outcome.get("reason", "")), steps=self.log, links=links)
        publish_markdown(artifact_key("runbook-log", self.component.value, self.phase.value), markdown,
                         description=f"{self.phase.value} of {self.component.value}: {outcome['status']}")


@contextmanager
def begin_phase(
    phase: Phase, component: AnyComponent, *, initiator: str, lock_wait_s: float = 0.0,
    start_ticket: str | None = None,
) -> Iterator[PhaseRun]:
    """Hold ``component``'s phase lock and yield the running phase (ComponentBusy if taken).

    A critical component's phase is refused here (PhaseStartRefused, before the lock) unless it
    was started from a verified channel (``start_ticket``) or typed names count on critical gates.
    """
    from runbook.control.gates import GateStore
    from runbook.initiators import resolve_initiator
    from runbook.slack.notifier import make_notifier

    one_line_stops()
    settings = load_settings()
    store = open_store(settings)
    flow_run_id, flow_run_name = current_run()
    who = resolve_initiator(
        store, phase=phase.value, component=component.value, typed=initiator, start_ticket=start_ticket,
        critical=is_critical(component) and phase is not Phase.READINESS, flow_run_id=flow_run_id,
        unverified=settings.unverified_channels,
    )
    with phase_lock(component.value, phase=phase.value, wait_s=lock_wait_s, store=store,
                    flow_run_id=flow_run_id):
        run = PhaseRun(phase, component, who.name, settings, store,
                       make_notifier(settings, gate_store=GateStore(store)), flow_run_id, flow_run_name,
                       initiator_channel=who.channel)
        yield run
