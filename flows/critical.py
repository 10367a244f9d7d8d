"""Phase 3 (ADR-0011): the critical components, with CriticalComponentMonitor and two approvers.

    var_engine:       5% -> 25% -> 100%
    hedge_calculator: (shadow) -> 10% -> 50%   (the cleanup phase takes it to 100%)

Each step: set the share -> observe -> monitor (hedge effectiveness too) -> check -> gate
(two different approvers, neither the run's initiator).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._steps import traffic_phase
from runbook.domain.plans import Phase
from runbook.orchestration.params import (
    CriticalComponent,
    CriticalSteps,
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


@flow(name="critical", description="ADR-0011 phase 3: var_engine, hedge_calculator; two approvers per gate")
def critical(
    component: CriticalComponent,
    initiator: Initiator,
    steps: CriticalSteps = None,
    observation: ObservationParam = ObservationOptions(),
    gate: GateParam = GateOptions(),
    thresholds: ThresholdParam = ThresholdOptions(),
    inject_fault: DemoFault = None,
    lock_wait_s: LockWait = 0.0,
    start_ticket: StartTicket = None,
) -> dict[str, Any]:
    """Shift a critical component's traffic in the ADR's steps, two approvers per gate.

    Args:
        component: a critical component (var_engine, hedge_calculator)
        initiator: who starts this run; may not approve its gates
        steps: candidate traffic percent, strictly increasing in (0, 100]
            (default var_engine 5, 25, 100; hedge_calculator 10, 50)
        observation: window per step, replay rate, extra windows when the monitor cannot decide
        gate: gate timeout and what a rejection or a timeout does
        thresholds: ADR-0011 rollback triggers, hedge effectiveness included
        inject_fault: demos and drills only: a named candidate defect
        lock_wait_s: seconds to wait when another phase holds the component (0: refuse at once)
        start_ticket: set by `runbook start --sign-with` or the Slack /runbook command (verified
            initiator); leave empty
    """
    return traffic_phase(
        Phase.CRITICAL, component, initiator=initiator, steps=steps, observation=observation, gate=gate,
        thresholds=thresholds, inject_fault=inject_fault, lock_wait_s=lock_wait_s, start_ticket=start_ticket,
    )
