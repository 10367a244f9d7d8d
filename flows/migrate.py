"""The whole runbook for one component or all of them, in the ADR's order.

    for each component (market data, performance, correlation, VaR, hedging):
        readiness -> shadow -> canary (or critical) -> cleanup
    skipping the phases its current mode has passed; the first stop ends the migration.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from pydantic import Field

from flows.canary import canary
from flows.cleanup import cleanup
from flows.critical import critical
from flows.readiness import readiness
from flows.shadow import shadow
from runbook.control.outcomes import phase_outcome
from runbook.domain.components import AnyComponent, catalog_components
from runbook.domain.plans import Phase, ordered_components, phases_for
from runbook.engines.fault_checks import faults_for
from runbook.orchestration.context import flow_context
from runbook.orchestration.params import (
    ComponentOrAll,
    DemoFault,
    GateOptions,
    GateParam,
    Initiator,
    ObservationOptions,
    ObservationParam,
    ThresholdOptions,
    ThresholdParam,
    ValidationOptions,
    ValidationParam,
)
from tasks.artifacts import publish_migration
from tasks.control import read_state

ContinueAfterStop = Annotated[bool, Field(json_schema_extra={"title": "Go on after a stopped component"})]


@flow(name="migrate", description="ADR-0011 end to end: every phase, for one component or all in ADR order")
def migrate(
    initiator: Initiator,
    component: ComponentOrAll = "all",
    validation: ValidationParam = ValidationOptions(),
    observation: ObservationParam = ObservationOptions(),
    gate: GateParam = GateOptions(),
    thresholds: ThresholdParam = ThresholdOptions(),
    inject_fault: DemoFault = None,
    continue_after_stop: ContinueAfterStop = False,
) -> list[dict[str, Any]]:
    """Run the phases in order; one row per component: how far it got and what stopped it.

    Args:
        initiator: who starts this run; may not approve critical components' gates
        component: one component, or all of them in the ADR's order
        validation: offline validation sizes (ADR: >= 10,000 historical + >= 100,000 Monte Carlo)
        observation: observation window per step, replay rate, extra windows
        gate: gate timeout and what a rejection or a timeout does
        thresholds: ADR-0011 rollback triggers
        inject_fault: demos and drills only: a candidate defect, injected into each selected component with it
        continue_after_stop: go on with the next component after one was stopped
    """
    components = ordered_components(catalog_components() if component == "all" else [component])
    faults = faults_for([c.value for c in components], inject_fault)
    options = {"validation": validation, "observation": observation, "gate": gate, "thresholds": thresholds}
    rows: list[dict[str, Any]] = []
    for name in components:
        row = _migrate_one(name, initiator=initiator, fault=faults.get(name.value), options=options)
        rows.append(row)
        publish_migration(rows)
        if row["status"] != "completed" and not continue_after_stop:
            break
    rows += [{"component": c.value, "status": "not started", "phase": "", "check": "", "reason": ""}
             for c in components[len(rows):]]
    publish_migration(rows)
    return rows


def _migrate_one(
    component: AnyComponent, *, initiator: str, fault: str | None, options: dict[str, Any]
) -> dict[str, Any]:
    """Run ``component``'s remaining phases; the last phase's outcome decides the row."""
    context = flow_context()
    state = read_state(component.value, context=context)
    outcome: dict[str, Any] = {"status": "completed", "reason": "nothing left to do"}
    for phase in phases_for(component, state.mode):
        run_state = _run_phase(phase, component, initiator=initiator, fault=fault, options=options)
        outcome = phase_outcome(context.store, component.value, str(run_state.state_details.flow_run_id),
                                message=run_state.message or "")
        if outcome["status"] != "completed":
            break
    final = read_state(component.value, context=context)
    return {"component": component.value, "status": outcome["status"], "phase": outcome.get("phase", ""),
            "check": outcome.get("check", ""), "reason": outcome.get("reason", ""), "mode": final.mode.value,
            "traffic_percent": final.traffic_percent, "report": outcome.get("report", ""), "fault": fault}


def _run_phase(phase: Phase, component: AnyComponent, *, initiator: str, fault: str | None,
               options: dict[str, Any]) -> Any:
    """Run one phase flow as a subflow; its final Prefect state (never raises)."""
    if phase is Phase.READINESS:
        return readiness(component=component.value, initiator=initiator, return_state=True)
    common = {"component": component, "initiator": initiator, "inject_fault": fault, "return_state": True,
              **{name: options[name] for name in ("observation", "gate", "thresholds")}}
    if phase is Phase.SHADOW:
        return shadow(validation=options["validation"], **common)
    traffic_flows: dict[Phase, Any] = {Phase.CANARY: canary, Phase.CRITICAL: critical, Phase.CLEANUP: cleanup}
    return traffic_flows[phase](**common)
