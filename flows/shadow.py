"""Phase 1 (ADR-0011): shadow mode. The candidate runs beside legacy; callers keep legacy's answers.

    enable shadow -> offline validation (historical + Monte Carlo) -> data-quality suites
    -> observe shadow traffic, monitor comparisons -> gate: ready for canary?
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._steps import (
    approve_or_stop,
    checked_options,
    data_docs,
    enter,
    quality_checks,
    stop_on_failure,
    stop_on_monitor,
    validation_check,
    watch,
)
from runbook.domain.plans import Phase, meets_adr_sizes
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
    ValidationOptions,
    ValidationParam,
)
from runbook.orchestration.phase import begin_phase
from tasks.artifacts import publish_validation
from tasks.control import enable_shadow
from tasks.quality import check_observations, check_quality
from tasks.validation import validate_offline


@flow(name="shadow", description="ADR-0011 phase 1: shadow mode, offline validation, comparisons, gate")
def shadow(
    component: ComponentParam,
    initiator: Initiator,
    validation: ValidationParam = ValidationOptions(),
    observation: ObservationParam = ObservationOptions(),
    gate: GateParam = GateOptions(),
    thresholds: ThresholdParam = ThresholdOptions(),
    inject_fault: DemoFault = None,
    lock_wait_s: LockWait = 0.0,
    start_ticket: StartTicket = None,
) -> dict[str, Any]:
    """Put a component in shadow mode and ask whether it is ready for canary.

    Args:
        component: the component to migrate
        initiator: who starts this run (recorded; may not approve its critical gates)
        validation: offline validation sizes (ADR: >= 10,000 historical + >= 100,000 Monte Carlo)
        observation: shadow traffic window, replay rate, extra windows when the monitor cannot decide
        gate: gate timeout and what a rejection or a timeout does
        thresholds: ADR-0011 rollback triggers
        inject_fault: demos and drills only: a named candidate defect (see `runbook validate --list-faults`)
        lock_wait_s: seconds to wait when another phase holds the component (0: refuse at once)
        start_ticket: set by `runbook start --sign-with` or the Slack /runbook command (verified
            initiator); leave empty
    """
    limits = checked_options(component, observation=observation, gate=gate, thresholds=thresholds,
                             inject_fault=inject_fault)
    sizes = validation.checked()
    with begin_phase(Phase.SHADOW, component, initiator=initiator, lock_wait_s=lock_wait_s,
                     start_ticket=start_ticket) as run:
        enter(run)
        enable_shadow(component.value, context=run.context, actor=run.actor,
                      reason="phase 1: shadow validation",
                      evidence={"flow_run_id": run.flow_run_id, "initiator": run.initiator})

        report = validate_offline(component.value, context=run.context, historical=sizes.historical,
                                  monte_carlo=sizes.monte_carlo, seed=sizes.seed, fault=inject_fault,
                                  market_data=validation.market_data,
                                  portfolios=validation.portfolios, requests=validation.requests)
        publish_validation(report)
        run.note("offline validation", "passed" if report.passed else "FAILED",
                 report.report_url or report.report_html)
        quality = [check_quality(suite, frame, context=run.context, run=run.label,
                                 data=f"{component.value} {suite} (validation report {report.report_html})")
                   for suite, frame in report.frames.items()]
        offline = [validation_check(report), *quality_checks(quality)]
        stop_on_failure(run, offline, report=report.report_html)

        decision, verdict = watch(run, step="shadow", observation=observation, thresholds=limits,
                                  fault=inject_fault)
        stop_on_monitor(run, decision, verdict)
        comparisons = check_observations("shadow_comparisons", component.value, context=run.context,
                                         since=verdict.since, mode="shadow", run=run.label)
        stop_on_failure(run, quality_checks([comparisons]))

        evidence = {
            "validation": "passed", "historical": sizes.historical, "monte_carlo": sizes.monte_carlo,
            "adr_sizes": meets_adr_sizes(sizes.historical, sizes.monte_carlo),
            "report": report.report_url or report.report_html,
            "monitor": verdict.lines, "shadow_comparisons": comparisons.summary,
            "data_docs": data_docs([*quality, comparisons]),
        }
        approvers = approve_or_stop(run, step="shadow", title=f"{component.value}: shadow -> canary?",
                                    evidence=evidence, gate=gate)
        return run.complete(result="ready for canary", approvers=list(approvers),
                            report=report.report_html)
