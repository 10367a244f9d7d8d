"""AutoRollbackMonitor (scheduled every minute): the ADR's rollback triggers on live components.

    for each component in shadow, canary or full: monitor the recent window
    -> ROLLBACK rolls it back, audits, alerts and emits runbook.component.rolled_back
    then roll observations up per minute and prune raw rows past the retention window
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from runbook.domain.components import catalog_components
from runbook.domain.modes import LIVE_MODES
from runbook.domain.plans import validate_window
from runbook.orchestration.context import flow_context
from runbook.orchestration.params import ThresholdOptions
from tasks.artifacts import publish_monitor
from tasks.control import read_state
from tasks.monitoring import monitor, prune_observations


@flow(name="auto_rollback_monitor", description="ADR-0011 rollback triggers on every live component")
def auto_rollback_monitor(
    window_s: float = 300.0, thresholds: ThresholdOptions = ThresholdOptions()
) -> list[dict[str, Any]]:
    """Monitor every live component over the last ``window_s`` seconds; roll back on a trigger.

    Args:
        window_s: seconds of observations each verdict looks at (never before the last state change)
        thresholds: ADR-0011 rollback triggers
    """
    validate_window("window_s", window_s)
    limits = thresholds.to_domain()
    context = flow_context()
    verdicts = []
    for component in catalog_components():
        state = read_state(component.value, context=context)
        if state.mode not in LIVE_MODES:
            continue
        verdict = monitor(component.value, context=context, thresholds=limits, window_s=window_s,
                          actor="auto_rollback_monitor")
        verdicts.append({"component": component.value, "mode": state.mode.value,
                         "traffic_percent": state.traffic_percent, "verdict": verdict.verdict.value,
                         "summary": verdict.summary})
    publish_monitor(verdicts)
    prune_observations(context=context)
    return verdicts
