"""monitor_and_act on a real store (SQLite and PostgreSQL): read the window, decide, roll back, audit."""

from __future__ import annotations

import math
import random
import time

import pytest

from runbook.control import (
    AuditLog,
    Baseline,
    BaselineStore,
    ObservationStore,
    ProductionSafetyManager,
    Store,
)
from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import StoreUnavailable
from runbook.monitoring import MonitorDecision, Verdict, calls_needed, monitor_and_act

ADR = RollbackThresholds()
COMPONENT = Component.PERFORMANCE_ANALYZER.value


@pytest.fixture
def store(database_url: str) -> Store:
    opened = Store.from_url(database_url)
    yield opened
    opened.dispose()


def canary(store: Store, component: str = COMPONENT, percent: float = 10.0) -> int:
    """Move ``component`` legacy -> shadow -> canary(percent); return the canary epoch."""
    safety = ProductionSafetyManager(store, actor="release-engineer")
    safety.enable_shadow_mode(component, reason="test")
    return safety.enable_canary_deployment(component, percent, reason="test").epoch


def write_calls(
    store: Store, *, n: int, errors: int, epoch: int, mode: str = "canary", seed: int = 0
) -> None:
    """n candidate-routed calls made just now under ``epoch``; the first ``errors`` raised."""
    rng = random.Random(seed)
    start = time.time()
    calls = [
        Observation(
            component=COMPONENT,
            mode=mode,
            route=Route.CANDIDATE if i >= errors else Route.LEGACY,
            routing_key=f"book-{i % 50}",
            at=start + i * 1e-5,
            legacy_latency_us=None if i >= errors else 90.0,
            candidate_latency_us=100.0 * math.exp(0.3 * rng.gauss(0.0, 1.0)),
            error_kind=ErrorKind.EXCEPTION if i < errors else ErrorKind.NONE,
            epoch=epoch,
        )
        for i in range(n)
    ]
    ObservationStore(store).write_batch(calls)


def just_after_the_calls() -> float:
    """A window end after every call ``write_calls`` stamped (its stamps run up to 50 ms ahead).

    Without it the window ends at the monitor's own clock reading, which a fast machine can take
    before the last stamps: the count of calls in the window would then depend on speed.
    """
    return time.time() + 1.0


def record_baseline(store: Store) -> None:
    BaselineStore(store).record(
        COMPONENT, Baseline(latency_p50_us=100.0, latency_p99_us=300.0, peak_memory_bytes=0)
    )


def test_canary_with_errors_is_rolled_back_audited_and_alerted(store: Store) -> None:
    """12 exceptions in 400 canary calls (3%) roll the canary back; the rollback, the verdict and the
    alert carry the counts."""
    epoch = canary(store)
    record_baseline(store)
    write_calls(store, n=400, errors=12, epoch=epoch)
    alerts: list[tuple[str, MonitorDecision]] = []

    decision = monitor_and_act(
        store, COMPONENT, thresholds=ADR, window_s=300, alert=lambda c, d: alerts.append((c, d)),
        now=just_after_the_calls(),
    )  # fmt: skip

    assert decision.verdict is Verdict.ROLLBACK
    assert store.state(COMPONENT).mode is Mode.ROLLED_BACK
    entries = AuditLog(store).entries(component=COMPONENT)
    rollback = next(e for e in entries if e.action == "rollback")
    assert rollback.actor == "auto_rollback_monitor"
    assert rollback.evidence["error_rate.events"] == 12
    assert rollback.evidence["error_rate.trials"] == 400
    assert "error_rate" in rollback.reason
    verdict_row = entries[-1]
    assert verdict_row.action == "monitor_verdict"
    assert verdict_row.evidence["action"] == "rolled_back"
    assert verdict_row.epoch == epoch
    assert [c for c, _ in alerts] == [COMPONENT]
    assert AuditLog(store).verify() == len(AuditLog(store).entries())


def test_healthy_canary_continues_and_writes_nothing(store: Store) -> None:
    """Enough clean canary calls at legacy's latency continue; the state and audit log stay as they were."""
    epoch = canary(store)
    record_baseline(store)
    write_calls(store, n=calls_needed(ADR) + 100, errors=0, epoch=epoch)
    before = len(AuditLog(store).entries())

    decision = monitor_and_act(
        store, COMPONENT, thresholds=ADR, window_s=300, alert=pytest.fail, now=just_after_the_calls()
    )

    assert decision.verdict is Verdict.CONTINUE, decision.reasons
    assert store.state(COMPONENT).mode is Mode.CANARY
    assert len(AuditLog(store).entries()) == before


def test_observations_of_an_earlier_state_are_not_counted(store: Store) -> None:
    """Errors recorded under the previous epoch (shadow) do not roll back the new canary: HOLD, audited."""
    safety = ProductionSafetyManager(store, actor="release-engineer")
    shadow_epoch = safety.enable_shadow_mode(COMPONENT, reason="test").epoch
    write_calls(store, n=300, errors=30, epoch=shadow_epoch, mode="shadow")
    epoch = safety.enable_canary_deployment(COMPONENT, 10, reason="test").epoch
    record_baseline(store)
    write_calls(store, n=50, errors=0, epoch=epoch)

    decision = monitor_and_act(store, COMPONENT, thresholds=ADR, window_s=300, now=just_after_the_calls())

    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["candidate_calls"] == 50
    assert store.state(COMPONENT).mode is Mode.CANARY
    last = AuditLog(store).entries(component=COMPONENT)[-1]
    assert (last.action, last.evidence["verdict"]) == ("monitor_verdict", "hold")


def test_component_not_in_a_live_mode_is_not_monitored(store: Store) -> None:
    """A legacy component gets HOLD with the reason, and nothing is written or alerted."""
    decision = monitor_and_act(store, COMPONENT, thresholds=ADR, window_s=60, alert=pytest.fail)
    assert decision.verdict is Verdict.HOLD
    assert "not monitored" in decision.reasons[0]
    assert AuditLog(store).entries() == []


def test_unreachable_store_raises_store_unavailable() -> None:
    """A store that does not answer gives StoreUnavailable naming the component, not a driver error."""
    dead = Store.from_url("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", upgrade=False)
    with pytest.raises(StoreUnavailable, match=COMPONENT):
        monitor_and_act(dead, COMPONENT, thresholds=ADR, window_s=60)
    dead.dispose()
