"""Phase 2 (ADR-0011): canary for a non-critical component, traffic shifted in steps.

    for each step (5% -> 25% -> 50% -> full by default):
        set the share -> observe a window -> monitor (auto-rollback) -> check the window -> gate
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._steps import traffic_phase
from runbook.domain.plans import Phase
from runbook.orchestration.params import (
    CanaryComponent,
    CanarySteps,
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


@flow(name="canary", description="ADR-0011 phase 2: canary steps for a non-critical component")
def canary(
    component: CanaryComponent,
    initiator: Initiator,
    steps: CanarySteps = None,
    observation: ObservationParam = ObservationOptions(),
    gate: GateParam = GateOptions(),
    thresholds: ThresholdParam = ThresholdOptions(),
    inject_fault: DemoFault = None,
    lock_wait_s: LockWait = 0.0,
    start_ticket: StartTicket = None,
) -> dict[str, Any]:
    """Shift a non-critical component's traffic to the candidate, step by step, with gates.

    Args:
        component: a non-critical component (market_data_provider, performance_analyzer, correlation_analyzer)
        initiator: who starts this run (recorded in the audit log)
        steps: candidate traffic percent, strictly increasing in (0, 100]; 100 = full (default 5, 25, 50, 100)
        observation: window per step, replay rate, extra windows when the monitor cannot decide
        gate: gate timeout and what a rejection or a timeout does
        thresholds: ADR-0011 rollback triggers
        inject_fault: demos and drills only: a named candidate defect
        lock_wait_s: seconds to wait when another phase holds the component (0: refuse at once)
        start_ticket: set by `runbook start --sign-with` or the Slack /runbook command (verified
            initiator); leave empty
    """
    return traffic_phase(
        Phase.CANARY, component, initiator=initiator, steps=steps, observation=observation, gate=gate,
        thresholds=thresholds, inject_fault=inject_fault, lock_wait_s=lock_wait_s, start_ticket=start_ticket,
    )
