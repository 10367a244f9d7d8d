"""Steps the phase flows share: check parameters, watch a window, stop on failed checks, ask a gate.

Each is a short sequence of task calls and pure decisions; the flows read as the runbook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runbook.domain.components import AnyComponent
from runbook.domain.decisions import (
    CheckResult,
    MonitorEvidence,
    NextAction,
    PhaseDecision,
    decide_checks,
    decide_gate,
    decide_monitor,
)
from runbook.domain.evidence import QualitySummary, ValidationSummary
from runbook.domain.plans import (
    Phase,
    TrafficPlan,
    check_phase_component,
    check_phase_entry,
    check_readiness,
    default_steps,
    monitor_window_s,
    step_label,
    steps_from,
    validate_steps,
    window_suite,
)
from runbook.domain.state import ComponentState
from runbook.domain.thresholds import RollbackThresholds
from runbook.domain.verdicts import Verdict
from runbook.engines.fault_checks import check_fault
from runbook.monitoring import MonitorDecision
from runbook.monitoring.capacity import check_capacity
from runbook.orchestration.params import GateOptions, ObservationOptions, ThresholdOptions
from runbook.orchestration.phase import PhaseRun, begin_phase
from runbook.orchestration.stops import one_line_stops
from tasks.artifacts import publish_step_health
from tasks.control import read_state, set_traffic
from tasks.monitoring import has_baseline, monitor
from tasks.quality import check_observations
from tasks.traffic import observe_production, replay_traffic


def checked_options(
    component: AnyComponent, *, observation: ObservationOptions, gate: GateOptions,
    thresholds: ThresholdOptions, inject_fault: str | None,
) -> RollbackThresholds:
    """Check every option before anything moves; the domain thresholds on success.

    From here on a deliberate stop (this check's BadParameter included) is one line in the run's log.
    """
    one_line_stops()
    observation.checked()
    gate.checked()
    check_fault(component.value, inject_fault)
    return thresholds.to_domain()


def enter(run: PhaseRun) -> ComponentState:
    """The component's state, if ``run``'s phase may start from it (else InvalidTransition)."""
    state = read_state(run.component.value, context=run.context)
    check_readiness(run.phase, run.component,
                    has_baseline=has_baseline(run.component.value, context=run.context))
    check_phase_entry(run.phase, run.component, state.mode)
    run.start()
    run.note("start", state.mode.value, f"{state.traffic_percent:g}% candidate traffic")
    return state


def watch(
    run: PhaseRun, *, step: str, observation: ObservationOptions, thresholds: RollbackThresholds,
    fault: str | None,
) -> tuple[PhaseDecision, MonitorDecision]:
    """Observe traffic for a window, then ask the monitor; observe again while it cannot decide."""
    component = run.component.value
    for extra in range(observation.max_extensions + 1):
        if observation.replay:
            traffic = replay_traffic(component, context=run.context, rate_per_s=observation.rate_per_s,
                                     duration_s=observation.window_s, seed=extra, fault=fault)
        else:
            traffic = observe_production(component, context=run.context, duration_s=observation.window_s)
        verdict = monitor(component, context=run.context, thresholds=thresholds, actor=run.actor,
                          fault=fault,
                          window_s=monitor_window_s(observation.window_s, extra + 1))
        decision = decide_monitor(
            MonitorEvidence(verdict.verdict, verdict.reasons, extra),
            observation.monitor_policy(),
        )
        run.note(f"{step} window {extra + 1}", verdict.verdict.value,
                 f"{traffic.sent} calls; {verdict.summary}")
        if decision.action is not NextAction.EXTEND_WINDOW:
            return decision, verdict
    raise AssertionError("unreachable: decide_monitor stops extending after max_extensions")


def stop_on_failure(run: PhaseRun, checks: Iterable[CheckResult], **evidence: Any) -> None:
    """Stop the phase on the first failing automated check; a human is asked only when all passed."""
    decision = decide_checks(list(checks))
    if decision.stops:
        run.stop(decision, **evidence)


def stop_on_monitor(run: PhaseRun, decision: PhaseDecision, verdict: MonitorDecision) -> None:
    """Stop the phase when the monitor rolled back or could not decide in time."""
    if decision.stops:
        run.stop(decision, monitor=verdict.summary)


def approve_or_stop(
    run: PhaseRun, *, step: str, title: str, evidence: Mapping[str, Any], gate: GateOptions
) -> tuple[str, ...]:
    """Ask the gate; on reject or timeout stop the phase per the gate options. The approvers."""
    answer = run.ask(step=step, title=title, evidence=evidence, options=gate)
    decision = decide_gate(answer.decision, gate.outcome_policy(), gate=step)
    if decision.stops:
        run.stop(decision, gate_records=[f"{r.decision.value} by {r.approver}" for r in answer.records])
    return answer.approvers


def monitor_check(verdict: MonitorDecision) -> CheckResult:
    """The monitor's verdict as a check (it passed when it let the phase go on)."""
    return CheckResult("monitor", verdict.verdict is Verdict.CONTINUE, verdict.summary)


def validation_check(report: ValidationSummary) -> CheckResult:
    """The offline validation's verdict as a check, naming its first failing checks."""
    return CheckResult("validation", report.passed, "; ".join(report.failed_checks[:3]))


def quality_checks(results: Iterable[QualitySummary]) -> list[CheckResult]:
    """Data-quality results as checks named ``quality:<suite>``."""
    return [
        CheckResult(f"quality:{r.suite}", r.passed, "; ".join(r.failures[:3]) or r.summary)
        for r in results
    ]


def data_docs(results: Iterable[QualitySummary]) -> dict[str, str]:
    """The Data Docs page of each suite run, by suite (links in the gate's evidence)."""
    return {r.suite: r.data_docs for r in results if r.data_docs}


def shift_traffic(
    run: PhaseRun, *, steps: tuple[float, ...], observation: ObservationOptions, gate: GateOptions,
    thresholds: RollbackThresholds, fault: str | None,
) -> list[dict[str, Any]]:
    """Walk the traffic steps: set the share, watch a window, monitor, check the window, gate.

    Every step but the last needs approval to go on. The health of each step is published.
    """
    plan = TrafficPlan(run.component, steps)
    component, health = run.component.value, []
    for step in plan.steps:
        label = step_label(step)
        state = set_traffic(component, step, context=run.context, actor=run.actor,
                            reason=f"{run.phase.value}: {label}",
                            evidence={"flow_run_id": run.flow_run_id})
        decision, verdict = watch(run, step=label, observation=observation, thresholds=thresholds,
                                  fault=fault)
        health.append({"step": label, "percent": step, "verdict": verdict.verdict.value,
                       "monitor": verdict.summary})
        publish_step_health(component, run.phase.value, health)
        stop_on_monitor(run, decision, verdict)
        suite = window_suite(step)
        windows = [check_observations(suite, component, context=run.context, mode=state.mode.value,
                                      since=verdict.since, run=f"{run.label}, {label}")] if suite else []
        stop_on_failure(run, [*quality_checks(windows), monitor_check(verdict)], step=label)
        if plan.gated(step):
            nxt = plan.next_step(step)
            evidence = {"traffic_percent": step, "next_percent": nxt, "monitor": verdict.lines,
                        **{w.suite: w.summary for w in windows}, "epoch": state.epoch,
                        "data_docs": data_docs(windows)}
            health[-1]["approvers"] = approve_or_stop(
                run, step=label, evidence=evidence, gate=gate,
                title=f"{component}: {step:g}% -> {nxt:g}% of traffic?",
            )
    return health


def traffic_phase(
    phase: Phase, component: AnyComponent, *, initiator: str, steps: list[float] | None,
    observation: ObservationOptions, gate: GateOptions, thresholds: ThresholdOptions,
    inject_fault: str | None, lock_wait_s: float, start_ticket: str | None = None,
) -> dict[str, Any]:
    """The body of both traffic phases (canary, critical): check, enter, shift traffic step by step.

    The phase decides which components it takes and the gate policy (two approvers when critical).
    """
    one_line_stops()
    check_phase_component(phase, component)
    planned = validate_steps(steps if steps is not None else default_steps(component))
    limits = checked_options(component, observation=observation, gate=gate, thresholds=thresholds,
                             inject_fault=inject_fault)
    if observation.replay:  # before anything moves: a window x rate that can never decide is refused
        check_capacity(planned, window_s=observation.window_s, rate_per_s=observation.rate_per_s,
                       windows=observation.max_extensions + 1, thresholds=limits)
    with begin_phase(phase, component, initiator=initiator, lock_wait_s=lock_wait_s,
                     start_ticket=start_ticket) as run:
        state = enter(run)
        health = shift_traffic(run, steps=steps_from(planned, state.traffic_percent),
                               observation=observation, gate=gate, thresholds=limits, fault=inject_fault)
        return run.complete(result=f"{component.value} at {health[-1]['step']}", steps=health)
