"""Phase 4 (ADR-0011): full migration and cleanup.

    (canary -> gate -> full) -> observe at full, monitor -> gate: retire legacy? -> retire
    -> final report
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._steps import approve_or_stop, checked_options, enter, stop_on_monitor, watch
from runbook.domain.plans import FULL_PERCENT, GateFallback, Phase, needs_promotion, step_label
from runbook.orchestration.params import (
    ComponentParam,
    DemoFault,
    GateOptions,
    GateParam,
    Initiator,
    LockWait,
    ObservationOptions,
    ObservationParam,
    StartTicket,
    ThresholdOptions,
    ThresholdParam,
)
from runbook.orchestration.phase import begin_phase
from tasks.artifacts import write_report
from tasks.control import retire, set_traffic


@flow(name="cleanup", description="ADR-0011 phase 4: all traffic to the candidate, retire legacy, report")
def cleanup(
    component: ComponentParam,
    initiator: Initiator,
    observation: ObservationParam = ObservationOptions(),
    gate: GateParam = GateOptions(),
    thresholds: ThresholdParam = ThresholdOptions(),
    inject_fault: DemoFault = None,
    lock_wait_s: LockWait = 0.0,
    start_ticket: StartTicket = None,
) -> dict[str, Any]:
    """Take a component to full, confirm it is healthy there, retire legacy, and write the report.

    Rejecting the retirement keeps the component at full (legacy stays deployed, rollback ready).

    Args:
        component: the component to finish
        initiator: who starts this run; may not approve critical components' gates
        observation: window at full, replay rate, extra windows when the monitor cannot decide
        gate: gate timeout and what a rejection or a timeout does before full
        thresholds: ADR-0011 rollback triggers
        inject_fault: demos and drills only: a named candidate defect
        lock_wait_s: seconds to wait when another phase holds the component (0: refuse at once)
        start_ticket: set by `runbook start --sign-with` or the Slack /runbook command (verified
            initiator); leave empty
    """
    limits = checked_options(component, observation=observation, gate=gate, thresholds=thresholds,
                             inject_fault=inject_fault)
    keep_full = gate.model_copy(update={"on_reject": GateFallback.HOLD, "on_timeout": GateFallback.HOLD})
    with begin_phase(Phase.CLEANUP, component, initiator=initiator, lock_wait_s=lock_wait_s,
                     start_ticket=start_ticket) as run:
        state = enter(run)
        if needs_promotion(state.mode):
            current = step_label(state.traffic_percent)
            decision, verdict = watch(run, step=current, observation=observation, thresholds=limits,
                                      fault=inject_fault)
            stop_on_monitor(run, decision, verdict)
            approve_or_stop(run, step="promote", title=f"{component.value}: {current} -> full?",
                            evidence={"traffic_percent": state.traffic_percent,
                                      "monitor": verdict.lines},
                            gate=gate)
            set_traffic(component.value, FULL_PERCENT, context=run.context, actor=run.actor,
                        reason="phase 4: full migration",
                        evidence={"flow_run_id": run.flow_run_id})

        decision, verdict = watch(run, step="full", observation=observation, thresholds=limits,
                                  fault=inject_fault)
        stop_on_monitor(run, decision, verdict)
        approvers = approve_or_stop(
            run, step="retire", title=f"{component.value}: retire legacy? (no rollback after this)",
            evidence={"mode": "full", "monitor": verdict.lines}, gate=keep_full,
        )
        retire(component.value, context=run.context, actor=run.actor, reason="phase 4: legacy removed",
               evidence={"flow_run_id": run.flow_run_id, "approvers": list(approvers)})
        report = write_report([component.value], context=run.context, title=f"Migration of {component.value}")
        run.note("final report", "written", report)
        return run.complete(result="legacy retired", approvers=list(approvers), report=report)
