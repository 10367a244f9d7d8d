"""Tasks that move a component's traffic: thin adapters over ProductionSafetyManager."""

from __future__ import annotations

from typing import Any

from runbook.control.safety import ProductionSafetyManager
from runbook.domain.evidence import RolledBack, StoreCheck
from runbook.domain.plans import FULL_PERCENT
from runbook.domain.state import ComponentState
from runbook.orchestration.context import PhaseContext
from runbook.orchestration.events import emit_rolled_back
from tasks._base import runbook_task


def _rolled_back(state: ComponentState, *, changed: bool) -> RolledBack:
    return RolledBack(state.component, state.mode.value, state.traffic_percent, state.epoch, changed)


@runbook_task(name="read-state")
def read_state(component: str, *, context: PhaseContext) -> ComponentState:
    """Where ``component``'s traffic goes now."""
    return context.store.state(component)


@runbook_task(name="enable-shadow")
def enable_shadow(
    component: str, *, context: PhaseContext, actor: str, reason: str, evidence: dict[str, Any]
) -> ComponentState:
    """Run the candidate beside legacy (callers keep legacy's answers); a no-op if already in shadow."""
    store = context.store
    if store.state(component).mode.value == "shadow":
        return store.state(component)
    manager = ProductionSafetyManager(store, actor=actor)
    return manager.enable_shadow_mode(component, reason=reason, evidence=evidence)


@runbook_task(name="set-traffic")
def set_traffic(
    component: str, percent: float, *, context: PhaseContext, actor: str, reason: str,
    evidence: dict[str, Any],
) -> ComponentState:
    """Send ``percent`` of routing keys to the candidate: canary below 100, full (promote) at 100."""
    manager = ProductionSafetyManager(context.store, actor=actor)
    if percent >= FULL_PERCENT:
        return manager.promote(component, reason=reason, evidence=evidence)
    return manager.enable_canary_deployment(component, percent, reason=reason, evidence=evidence)


@runbook_task(name="retire-legacy")
def retire(
    component: str, *, context: PhaseContext, actor: str, reason: str, evidence: dict[str, Any]
) -> ComponentState:
    """Record that the legacy implementation is removed (no rollback after this)."""
    manager = ProductionSafetyManager(context.store, actor=actor)
    return manager.retire(component, reason=reason, evidence=evidence)


@runbook_task(name="roll-back", retries=2, retry_delay_seconds=1)
def roll_back(
    component: str, *, context: PhaseContext, actor: str, reason: str, evidence: dict[str, Any], source: str
) -> RolledBack:
    """Send all of ``component``'s traffic back to legacy (idempotent); emit the rollback event on change."""
    store = context.store
    before = store.state(component)
    after = ProductionSafetyManager(store, actor=actor).rollback_component(
        component, reason=reason, evidence=evidence
    )
    if after.epoch != before.epoch:
        emit_rolled_back(component, source=source, reason=reason, evidence=evidence)
    return _rolled_back(after, changed=after.epoch != before.epoch)


@runbook_task(name="roll-back-all", retries=2, retry_delay_seconds=1)
def roll_back_all(
    *, context: PhaseContext, actor: str, reason: str, evidence: dict[str, Any], source: str
) -> list[RolledBack]:
    """Roll back every live component in one transaction; an event for each one that changed."""
    manager = ProductionSafetyManager(context.store, actor=actor)
    changed = manager.rollback_all(reason=reason, evidence=evidence)
    for state in changed:
        emit_rolled_back(state.component, source=source, reason=reason, evidence=evidence)
    return [_rolled_back(state, changed=True) for state in changed]


@runbook_task(name="check-store")
def check_store(*, context: PhaseContext) -> StoreCheck:
    """The store answers and its schema is at the newest revision (upgraded if needed)."""
    store = context.store
    return StoreCheck(store.display_url, store.upgrade(), len(store.states()))
