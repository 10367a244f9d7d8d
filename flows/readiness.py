"""Phase 0 (ADR-0011): risk-mitigation infrastructure in place before anything moves.

    store reachable and migrated -> expectations load -> market history passes its suite
    -> Slack (or the console) reachable -> per component: engines import, legacy baseline recorded
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._steps import quality_checks, stop_on_failure
from runbook.domain.components import catalog_components
from runbook.domain.decisions import CheckResult
from runbook.domain.plans import Phase, ordered_components, validate_count
from runbook.errors import RunbookError, ValidationFailed
from runbook.orchestration.context import flow_context
from runbook.orchestration.params import ComponentOrAll
from runbook.orchestration.phase import begin_phase
from tasks.control import check_store
from tasks.monitoring import record_baseline
from tasks.notify import check_notifier
from tasks.quality import check_expectations, check_market_history
from tasks.validation import check_engines


@flow(name="readiness", description="ADR-0011 phase 0: store, engines, expectations, Slack, baselines")
def readiness(
    component: ComponentOrAll = "all",
    initiator: str = "runbook",
    baseline_calls: int = 300,
    lock_wait_s: float = 0.0,
) -> dict[str, Any]:
    """Check the runbook can run, and record each component's legacy baseline.

    Args:
        component: one component, or all of them
        initiator: who starts this run (recorded in the audit log)
        baseline_calls: legacy calls timed to measure each baseline (latency p50/p99, memory)
        lock_wait_s: seconds to wait when another phase holds a component (0: refuse at once)
    """
    validate_count("baseline_calls", baseline_calls, minimum=20)
    components = ordered_components(catalog_components() if component == "all" else [component])
    context = flow_context()
    market_history = check_market_history(context=context)
    notifier = check_notifier(context=context)
    shared = {"store": check_store(context=context).as_dict(), "expectations": check_expectations().as_dict(),
              "notifier": notifier.as_dict(), "market_history": market_history.as_dict()}
    shared_checks = [CheckResult("notifier", notifier.ok, notifier.detail),
                     *quality_checks([market_history])]
    results, failures = {}, []
    for name in components:
        try:
            with begin_phase(Phase.READINESS, name, initiator=initiator, lock_wait_s=lock_wait_s) as run:
                run.start()
                stop_on_failure(run, shared_checks)
                engines = check_engines(name.value, context=run.context)
                baseline = record_baseline(name.value, context=run.context, calls=baseline_calls)
                run.note("engines", "ok", f"{engines.legacy} / {engines.candidate}")
                run.note("baseline", "recorded", f"p50 {baseline.latency_p50_us:.0f} us")
                results[name.value] = run.complete(result="ready", engines=engines.as_dict(),
                                                   baseline=baseline.as_dict())
        except RunbookError as exc:
            failures.append(f"{name.value}: {exc}")
    if failures:
        raise ValidationFailed("readiness failed: " + "; ".join(failures))
    return {"shared": shared, "components": results}
