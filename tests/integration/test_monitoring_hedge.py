"""CriticalComponentMonitor on hedge_calculator with effectiveness probed from the shipped engines."""

from __future__ import annotations

import pytest

from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.domain.thresholds import RollbackThresholds
from runbook.engines.registry import load_pair
from runbook.monitoring import EffectivenessSample, Verdict, effectiveness_probe, monitor_and_act

COMPONENT = "hedge_calculator"


@pytest.fixture
def store(sqlite_url: str) -> Store:
    opened = Store.from_url(sqlite_url)
    safety = ProductionSafetyManager(opened, actor="test")
    safety.enable_shadow_mode(COMPONENT, reason="test")
    safety.enable_canary_deployment(COMPONENT, 10, reason="test")
    yield opened
    opened.dispose()


def test_probe_of_a_five_percent_ratio_error_keeps_one_minus_e_squared() -> None:
    """A hedge ratio 5% too large keeps 1 - 0.05^2 = 0.9975 of legacy's effectiveness on every window."""
    samples = effectiveness_probe(load_pair(COMPONENT, fault="hedge_ratio_error_5pct"), count=60)
    assert len(samples) == 60
    for sample in samples:
        assert sample.legacy is not None
        assert sample.candidate == pytest.approx(sample.legacy * (1 - 0.05**2), rel=1e-9)


def test_shipped_hedge_engines_keep_legacy_effectiveness() -> None:
    """The shipped candidate's hedges are as effective as legacy's on replayed market windows."""
    samples = effectiveness_probe(load_pair(COMPONENT), count=60)
    ratio = sum(s.candidate for s in samples) / sum(s.legacy or 0.0 for s in samples)
    assert ratio == pytest.approx(1.0, abs=1e-9)


def test_degraded_effectiveness_rolls_the_hedge_canary_back(store: Store) -> None:
    """Effectiveness at 0.90x legacy rolls hedge_calculator back even with no call observed yet."""
    degraded = [EffectivenessSample(candidate=0.9 * 0.6, legacy=0.6) for _ in range(150)]
    decision = monitor_and_act(
        store, COMPONENT, thresholds=RollbackThresholds(), window_s=60, effectiveness=lambda: degraded
    )
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("hedge_effectiveness",)
    rollback = [e for e in AuditLog(store).entries(component=COMPONENT) if e.action == "rollback"]
    assert rollback[0].evidence["hedge_effectiveness.ratio"] == pytest.approx(0.9)


def test_a_failing_probe_leaves_the_check_undecided(store: Store) -> None:
    """A probe that raises does not stop the monitor: hedge effectiveness is undecided, verdict HOLD."""

    def broken() -> list[EffectivenessSample]:
        raise RuntimeError("market data unavailable")

    decision = monitor_and_act(
        store, COMPONENT, thresholds=RollbackThresholds(), window_s=60, effectiveness=broken
    )
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["check.hedge_effectiveness"] == "undecided"
