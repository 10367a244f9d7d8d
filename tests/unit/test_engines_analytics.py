"""Market data, performance and correlation engines: conventions on hand-made data, legacy vs candidate."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.engines.correlation import CorrelationAnalyzer
from runbook.engines.faults import Annualisation365, GapFillForward, PairwiseNaNDrop
from runbook.engines.legacy import DriftRiskEngine
from runbook.engines.market_data import MarketDataProvider
from runbook.engines.performance import PerformanceAnalyzer
from runbook.engines.requests import CorrelationRequest, MarketDataRequest, PerformanceRequest
from runbook.errors import BadInputData
from runbook.scenarios.replay import replay_requests

LEGACY = DriftRiskEngine()


@pytest.mark.parametrize("engine", [MarketDataProvider(), LEGACY])
def test_returns_span_a_gap_instead_of_filling_it(engine):
    """Closes 100, NaN, 121, 133.1: two returns (log 1.21, log 1.1), not three with a zero."""
    result = engine.get_returns_sync(MarketDataRequest(np.array([100.0, np.nan, 121.0, 133.1])))
    assert result.observations == 2
    assert result.total_return == pytest.approx(np.log(1.331), rel=1e-12)
    assert result.mean_return == pytest.approx(np.log(1.331) / 2, rel=1e-12)


def test_forward_filling_a_gap_changes_the_statistics():
    """The gap_fill_forward variant counts a zero return on the gap day."""
    result = GapFillForward().get_returns_sync(MarketDataRequest(np.array([100.0, np.nan, 121.0, 133.1])))
    assert result.observations == 3
    assert result.mean_return == pytest.approx(np.log(1.331) / 3, rel=1e-12)


@pytest.mark.parametrize("engine", [PerformanceAnalyzer(), LEGACY])
def test_performance_of_a_known_path(engine):
    """Closes 100, 120, 90, 110, 130: drawdown 25%, growth 1.3 over 4 days annualised with 252 days."""
    prices = np.array([100.0, 120.0, 90.0, 110.0, 130.0])
    daily = np.array([0.2, -0.25, 20 / 90, 20 / 110])
    result = engine.analyze_performance_sync(PerformanceRequest(prices[:, None], np.array([1.0])))
    volatility = np.sqrt(((daily - daily.mean()) ** 2).sum() / 3 * 252)
    assert result.max_drawdown == pytest.approx(0.25, rel=1e-12)
    assert result.annual_return == pytest.approx(1.3 ** (252 / 4) - 1, rel=1e-10)
    assert result.annual_volatility == pytest.approx(volatility, rel=1e-12)
    assert result.sharpe == pytest.approx(daily.mean() * 252 / volatility, rel=1e-12)


def test_annualisation_with_365_days_is_different():
    """365 instead of 252 days per year changes the annualised volatility by sqrt(365/252)."""
    prices = np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.01, (251, 2)), axis=0))
    request = PerformanceRequest(prices, np.array([0.5, 0.5]))
    ratio = Annualisation365().analyze_performance_sync(request).annual_volatility / (
        PerformanceAnalyzer().analyze_performance_sync(request).annual_volatility
    )
    assert ratio == pytest.approx(np.sqrt(365 / 252), rel=1e-12)


@pytest.mark.parametrize("engine", [CorrelationAnalyzer(), LEGACY])
def test_listwise_deletion_drops_a_date_for_every_pair(engine):
    """A NaN in asset 2 removes that date from the (0, 1) pair too; equals corrcoef of complete rows."""
    returns = np.random.default_rng(8).normal(0, 1, (60, 3))
    returns[[5, 17, 40], 2] = np.nan
    complete = returns[np.isfinite(returns).all(axis=1)]
    expected = np.corrcoef(complete, rowvar=False)[np.triu_indices(3, k=1)]
    result = engine.calculate_correlations_sync(CorrelationRequest(returns))
    np.testing.assert_allclose(result.upper_triangle, expected, rtol=1e-12)


def test_pairwise_deletion_differs_from_listwise():
    """pandas-style pairwise deletion keeps more dates for the (0, 1) pair: a different number."""
    returns = np.random.default_rng(8).normal(0, 1, (60, 3))
    returns[[5, 17, 40], 2] = np.nan
    listwise = CorrelationAnalyzer().calculate_correlations_sync(CorrelationRequest(returns)).upper_triangle
    pairwise = PairwiseNaNDrop().calculate_correlations_sync(CorrelationRequest(returns)).upper_triangle
    assert abs(pairwise[0] - listwise[0]) > 1e-4
    expected = np.corrcoef(returns[:, 0], returns[:, 1])[0, 1]
    assert pairwise[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("component", "candidate"),
    [
        ("market_data_provider", MarketDataProvider()),
        ("performance_analyzer", PerformanceAnalyzer()),
        ("correlation_analyzer", CorrelationAnalyzer()),
    ],
)
def test_legacy_and_candidate_agree_on_real_requests(component, candidate):
    """Every field agrees within 1e-9 relative on requests replayed from the bundled history."""
    from runbook.domain.components import Component
    from runbook.engines.protocols import ENGINE_METHODS

    method = ENGINE_METHODS[Component(component)].single
    for _, request in replay_requests(component, count=60, seed=9):
        old, new = getattr(LEGACY, method)(request), getattr(candidate, method)(request)
        np.testing.assert_allclose(np.ravel(_values(new)), np.ravel(_values(old)), rtol=1e-9, atol=1e-12)


def _values(result: object) -> list[object]:
    return [getattr(result, name) for name in result.__dataclass_fields__]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MarketDataRequest(np.array([100.0, -1.0, 101.0, 102.0])), "non-positive"),
        (lambda: MarketDataRequest(np.array([100.0, np.nan, np.nan])), "at least 3"),
        (lambda: PerformanceRequest(np.ones((10, 2)), np.array([1.0])), "mismatched shapes"),
        (lambda: PerformanceRequest(np.full((10, 1), np.nan), np.array([1.0])), "NaN"),
        (lambda: CorrelationRequest(np.ones((10, 1))), "at least 2 assets"),
    ],
)
def test_bad_analytics_requests(build, message):
    """Non-positive or missing prices, mismatched shapes and single-asset correlations are refused."""
    with pytest.raises(BadInputData, match=message):
        build()
