"""monitor_and_act: read a component's window from the store, decide, and act on the verdict.

ROLLBACK -> ``ProductionSafetyManager.rollback_component`` (the monitor's evidence goes into the
rollback's audit row), then a ``monitor_verdict`` audit row, then ``alert``. HOLD -> a
``monitor_verdict`` audit row. CONTINUE -> nothing written. A component that is not in a live mode
(shadow, canary, full) is not monitored: HOLD, nothing written, nobody alerted.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from runbook.domain.components import parse_component
from runbook.domain.modes import LIVE_MODES
from runbook.domain.state import ComponentState
from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter, StoreUnavailable
from runbook.monitoring._effectiveness import EffectivenessSample
from runbook.monitoring._health import HealthSummary
from runbook.monitoring._memory import MemorySample
from runbook.monitoring._monitors import CriticalComponentMonitor, monitor_for
from runbook.monitoring._verdict import MonitorDecision, Verdict

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["Alert", "EffectivenessSource", "MemorySource", "monitor_and_act"]

log = logging.getLogger(__name__)

Alert = Callable[[str, MonitorDecision], Any]
EffectivenessSource = Sequence[EffectivenessSample] | Callable[[], Sequence[EffectivenessSample]]
MemorySource = MemorySample | Callable[[], MemorySample]
VERDICT_ACTION = "monitor_verdict"


def monitor_and_act(
    store: Store,
    component: str,
    *,
    thresholds: RollbackThresholds | None = None,
    window_s: float,
    actor: str = "auto_rollback_monitor",
    now: float | None = None,
    alert: Alert | None = None,
    effectiveness: EffectivenessSource | None = None,
    memory: MemorySource | None = None,
) -> MonitorDecision:
    """Monitor ``component`` over the last ``window_s`` seconds of its current state, and act.

    The window holds only observations made under the current state: at or after the last state
    change (``updated_at``), in the current mode and epoch. ``now`` (Unix seconds) ends the window
    (default: the clock). ``alert(component, decision)`` is called on ROLLBACK, also when the
    rollback itself could not be written; its failures are logged, never raised.
    ``effectiveness``: hedge effectiveness samples, or a callable producing them (called only for
    hedge_calculator), e.g. ``lambda: effectiveness_probe(pair)``.
    ``memory``: both engines' peak memory, or a callable producing it (called once the component is
    known to be live and only when the window's observations carry no memory sample), e.g.
    ``lambda: memory_probe(pair, component=name)``; a probe that raises leaves the memory check
    undecided (HOLD). None: memory is decided from the observations' samples, when they carry any.

    Raises StoreUnavailable (naming the component and what was not done) when the store cannot be
    read or written; BadParameter / UnknownComponent for bad arguments.
    """
    name = parse_component(str(component)).value
    if not window_s > 0 or not math.isfinite(window_s):
        raise BadParameter(f"window_s {window_s!r} must be a finite number of seconds > 0")
    state = _guard(name, "read the state of", lambda: store.state(name))
    if state.mode not in LIVE_MODES:
        return _not_monitored(state)
    until = time.time() if now is None else float(now)
    since = until - window_s
    if state.updated_at is not None:
        since = max(since, state.updated_at.timestamp())
    decision = _evaluate(
        store, state, thresholds, since=since, until=until, effectiveness=effectiveness, memory=memory
    )
    decision = _with_evidence(decision, window_s=window_s, since=since, until=until, state=state, monitored=1)
    if decision.verdict is Verdict.ROLLBACK:
        decision = _roll_back(store, state, decision, actor=actor, alert=alert)
    if decision.verdict is not Verdict.CONTINUE:
        _guard(
            name,
            f"audit the {decision.verdict.value} verdict of",
            lambda: _audit(store, state, decision, actor),
        )
    return decision


def _evaluate(
    store: Store,
    state: ComponentState,
    thresholds: RollbackThresholds | None,
    *,
    since: float,
    until: float,
    effectiveness: EffectivenessSource | None,
    memory: MemorySource | None = None,
) -> MonitorDecision:
    from runbook.control.baselines import BaselineStore
    from runbook.monitoring.retention import window_summary

    name = state.component
    window = _guard(
        name,
        "read the observations of",
        lambda: window_summary(
            store, name, since=since, until=until, mode=state.mode.value, epoch=state.epoch
        ),
    )
    baseline = _guard(name, "read the baseline of", lambda: BaselineStore(store).get(name))
    monitor = monitor_for(name, thresholds)
    # Observations of process-isolated calls carry the candidate's own per-call memory: the probe
    # is only the fallback for windows without it (thread and inline isolation).
    peaks = None if _carries_memory(window) else _memory(name, memory)
    if isinstance(monitor, CriticalComponentMonitor):
        samples = _samples(name, effectiveness) if name == "hedge_calculator" else None
        return monitor.evaluate(
            window, baseline=baseline, component=name, effectiveness=samples, memory=peaks
        )
    return monitor.evaluate(window, baseline=baseline, component=name, memory=peaks)


def _samples(name: str, source: EffectivenessSource | None) -> Sequence[EffectivenessSample] | None:
    if source is None or not callable(source):
        return source
    try:
        return source()
    except Exception:  # a failing probe leaves the check undecided (HOLD), it does not stop the monitor
        log.exception("hedge effectiveness probe of %s failed", name)
        return None


def _carries_memory(window: HealthSummary) -> bool:
    return window.peak_candidate_memory_bytes > 0


def _memory(name: str, source: MemorySource | None) -> MemorySample | None:
    if source is None or isinstance(source, MemorySample):
        return source
    try:
        return source()
    except Exception:  # a failing probe leaves the check undecided (HOLD), it does not stop the monitor
        log.exception("memory probe of %s failed", name)
        return MemorySample(candidate_peak_bytes=0, legacy_peak_bytes=0, calls=0)


def _roll_back(
    store: Store, state: ComponentState, decision: MonitorDecision, *, actor: str, alert: Alert | None
) -> MonitorDecision:
    from runbook.control.safety import ProductionSafetyManager

    failed = ", ".join(decision.failed_checks)
    reason = f"automatic rollback by the monitor ({failed}): {decision.reasons[0]}"
    try:
        new = ProductionSafetyManager(store, actor=actor).rollback_component(
            state.component, reason=reason, evidence=decision.evidence
        )
    except StoreUnavailable as exc:
        decision = _with_evidence(decision, action="rollback_failed")
        _alert(alert, state.component, decision)
        raise StoreUnavailable(
            f"monitor decided ROLLBACK for {state.component} but the rollback was not written: {exc}; "
            f"roll back by hand (scripts/emergency_rollback.sh {state.component})"
        ) from exc
    decision = _with_evidence(
        decision, action="rolled_back", rolled_back_epoch=new.epoch, to_mode=new.mode.value
    )
    _alert(alert, state.component, decision)
    return decision


def _audit(store: Store, state: ComponentState, decision: MonitorDecision, actor: str) -> None:
    from runbook.control.audit import AuditLog

    AuditLog(store).append(
        component=state.component,
        action=VERDICT_ACTION,
        actor=actor,
        reason=decision.summary,
        evidence=decision.evidence,
        from_mode=state.mode.value,
        from_fraction=state.traffic_fraction,
        epoch=state.epoch,
    )


def _alert(alert: Alert | None, component: str, decision: MonitorDecision) -> None:
    if alert is None:
        return
    try:
        alert(component, decision)
    except Exception:  # an alert channel that is down must not undo or hide the rollback
        log.exception("alert for %s failed", component)


def _guard(component: str, doing: str, call: Callable[[], Any]) -> Any:
    """Run a store call; any database failure becomes StoreUnavailable naming what was not done."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return call()
    except StoreUnavailable as exc:
        raise StoreUnavailable(f"monitor could not {doing} {component}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"monitor could not {doing} {component}: {type(exc).__name__}: {exc}") from exc


def _not_monitored(state: ComponentState) -> MonitorDecision:
    reason = (
        f"not monitored: {state.component} is in mode {state.mode.value!r} (live modes: shadow, canary, full)"
    )
    evidence: dict[str, float | int | str | None] = {
        "verdict": Verdict.HOLD.value,
        "component": state.component,
        "mode": state.mode.value,
        "epoch": state.epoch,
        "monitored": 0,
    }
    return MonitorDecision(verdict=Verdict.HOLD, reasons=(reason,), evidence=evidence)


def _with_evidence(
    decision: MonitorDecision, *, state: ComponentState | None = None, **extra: Any
) -> MonitorDecision:
    evidence = dict(decision.evidence)
    if state is not None:
        evidence.update(mode=state.mode.value, epoch=state.epoch, traffic_fraction=state.traffic_fraction)
    evidence.update(extra)
    return dataclasses.replace(decision, evidence=evidence)
