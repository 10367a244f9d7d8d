"""The monitor as a task: AutoRollbackMonitor / CriticalComponentMonitor over the recent window.

A ROLLBACK verdict is acted on inside ``monitor_and_act`` (rollback + audit row); the alert here
tells the team and emits the ``runbook.component.rolled_back`` event the rollback deployment follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook.domain.evidence import BaselineFigures, PruneSummary
from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring import MonitorDecision, effectiveness_probe, memory_probe, monitor_and_act
from runbook.orchestration.context import PhaseContext
from runbook.orchestration.events import emit_rolled_back
from tasks._base import runbook_task


def _alert(context: PhaseContext) -> Callable[[str, MonitorDecision], None]:
    def alert(component: str, decision: MonitorDecision) -> None:
        reason = decision.summary
        evidence = dict(decision.evidence)
        if evidence.get("action") == "rolled_back":
            emit_rolled_back(component, source="monitor", reason=reason, evidence=evidence)
        context.notifier.rollback_alert(component, reason=reason, evidence=evidence, automatic=True)

    return alert


@runbook_task(name="monitor")
def monitor(
    component: str, *, context: PhaseContext, thresholds: RollbackThresholds, window_s: float, actor: str,
    fault: str | None = None,
) -> MonitorDecision:
    """The monitor's verdict on the last ``window_s`` seconds of ``component`` (rolls back on ROLLBACK).

    hedge_calculator's effectiveness, and every component's peak memory, are probed on replayed
    requests with the same engines (``fault`` injected into the candidate when given).
    """
    settings = context.settings

    def probe() -> Any:
        from runbook.engines.registry import load_pair

        return effectiveness_probe(load_pair(component, engines_config=settings.engines, fault=fault))

    def probe_memory() -> Any:
        from runbook.engines.registry import load_pair

        pair = load_pair(component, engines_config=settings.engines, fault=fault)
        return memory_probe(pair, component=component)

    return monitor_and_act(
        context.store, component, thresholds=thresholds, window_s=window_s, actor=actor,
        alert=_alert(context), effectiveness=probe, memory=probe_memory, now=context.clock(),
    )


@runbook_task(name="prune-observations")
def prune_observations(*, context: PhaseContext, retention_days: float | None = None) -> PruneSummary:
    """Roll whole minutes of observations up, then delete raw rows older than the retention window."""
    from runbook.monitoring.retention import prune_observations as prune

    days = context.settings.observation_retention_days if retention_days is None else retention_days
    outcome = prune(context.store, now=context.clock(), retention_days=days)
    return PruneSummary(days, outcome.deleted, outcome.rollup.raw_rows, outcome.rollup.rollups,
                        outcome.rollup.rolled_until)


@runbook_task(name="record-baseline")
def record_baseline(component: str, *, context: PhaseContext, calls: int = 300) -> BaselineFigures:
    """Measure legacy's latency, memory (and hedge effectiveness) and store it as the baseline."""
    from runbook.control.baselines import BaselineStore
    from runbook.engines.registry import load_pair
    from runbook.monitoring.baseline import measure_legacy_baseline

    pair = load_pair(component, engines_config=context.settings.engines)
    baseline = measure_legacy_baseline(component, pair, calls=calls)
    BaselineStore(context.store).record(component, baseline)
    return BaselineFigures(
        component=component, latency_p50_us=baseline.latency_p50_us, latency_p99_us=baseline.latency_p99_us,
        peak_memory_bytes=baseline.peak_memory_bytes, hedge_effectiveness=baseline.hedge_effectiveness,
        source=baseline.source,
    )


@runbook_task(name="has-baseline")
def has_baseline(component: str, *, context: PhaseContext) -> bool:
    """True when phase 0 recorded ``component``'s legacy baseline."""
    from runbook.control.baselines import BaselineStore

    return BaselineStore(context.store).get(component) is not None
