"""Emergency rollback: one component or all of them back to legacy, now.

The same code path as ``scripts/emergency_rollback.sh`` and ``runbook rollback``
(ProductionSafetyManager.rollback_component / rollback_all). Also triggered by the monitor's
``runbook.component.rolled_back`` event, which it confirms (a rollback is idempotent) and announces.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from runbook.domain.components import ALL_COMPONENTS_ALIAS, parse_component
from runbook.orchestration.context import flow_context
from runbook.orchestration.params import ComponentOrAllComponents
from tasks.control import roll_back, roll_back_all
from tasks.notify import rollback_alert


@flow(name="emergency_rollback", description="Send a component's (or all components') traffic back to legacy")
def emergency_rollback(
    component: ComponentOrAllComponents,
    reason: str = "emergency rollback",
    actor: str = "emergency_rollback",
) -> list[dict[str, Any]]:
    """Roll back ``component`` (or ``all_components``) and alert the team.

    Args:
        component: a component, or all_components
        reason: why (kept in the audit log and the alert)
        actor: who asks (kept in the audit log)
    """
    evidence = {"source": "emergency_rollback flow"}
    context = flow_context()
    if component == ALL_COMPONENTS_ALIAS:
        states = roll_back_all(context=context, actor=actor, reason=reason, evidence=evidence,
                               source="emergency")
    else:
        states = [roll_back(parse_component(component).value, context=context, actor=actor, reason=reason,
                            evidence=evidence, source="emergency")]
    for state in states:
        rollback_alert(state.component, context=context, reason=reason,
                       evidence={**evidence, **state.as_dict()}, automatic=False)
    return [state.as_dict() for state in states]
