"""Both VaR engines: closed forms, quantile method, scaling, Monte Carlo, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.engines.faults import QuantileConventionVaR
from runbook.engines.legacy import DriftRiskEngine
from runbook.engines.requests import VaRMethod, VaRRequest
from runbook.engines.var import VaRCalculationEngine
from runbook.errors import BadInputData

ENGINES = [VaRCalculationEngine(), DriftRiskEngine()]
NOTIONAL = 10_000.0


def _request_for_losses(losses: np.ndarray, **kwargs: object) -> VaRRequest:
    """A one-asset request whose P&L is exactly -losses (in currency)."""
    returns = np.log1p(-np.asarray(losses, float) / NOTIONAL)[:, None]
    return VaRRequest(returns, np.array([1.0]), NOTIONAL, **kwargs)


@pytest.mark.parametrize("engine", ENGINES)
def test_historical_var_uses_linear_quantile(engine):
    """Losses 1..100 at 95%: VaR is the linear-interpolated 95.05 and ES the mean of losses >= it (98)."""
    result = engine.calculate_var_sync(_request_for_losses(np.arange(1.0, 101.0), confidence=0.95))
    assert result.var == pytest.approx(95.05, rel=1e-9)
    assert result.es == pytest.approx(98.0, rel=1e-9)


def test_inverted_cdf_quantile_is_a_different_number():
    """numpy's inverted_cdf gives 95 on the same losses: a convention difference, not noise."""
    result = QuantileConventionVaR().calculate_var_sync(
        _request_for_losses(np.arange(1.0, 101.0), confidence=0.95)
    )
    assert result.var == pytest.approx(95.0, rel=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("horizon", [1, 10])
def test_parametric_var_closed_form(engine, horizon):
    """Alternating +-a simple returns: VaR = 2.326348 * sigma * sqrt(h), ES = 2.665214 * sigma * sqrt(h)."""
    n, a = 250, 0.01
    simple = a * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    request = VaRRequest(np.log1p(simple)[:, None], np.array([1.0]), 1e6, 0.99, horizon, VaRMethod.PARAMETRIC)
    sigma = 1e6 * a * np.sqrt(n / (n - 1))
    result = engine.calculate_var_sync(request)
    assert result.var == pytest.approx(2.326348 * sigma * np.sqrt(horizon), rel=1e-6)
    assert result.es == pytest.approx(2.665214 * sigma * np.sqrt(horizon), rel=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_historical_var_scales_with_square_root_of_horizon(engine):
    """The h-day VaR and ES are sqrt(h) times the 1-day figures."""
    losses = np.random.default_rng(3).normal(0, 50, 500)
    one = engine.calculate_var_sync(_request_for_losses(losses))
    ten = engine.calculate_var_sync(_request_for_losses(losses, horizon_days=10))
    assert ten.var == pytest.approx(one.var * np.sqrt(10), rel=1e-12)
    assert ten.es == pytest.approx(one.es * np.sqrt(10), rel=1e-12)


def test_monte_carlo_var_agrees_between_engines_and_with_parametric():
    """Under common random numbers both engines' MC VaR agree to 1e-9; both near delta-normal (3%)."""
    rng = np.random.default_rng(11)
    returns = rng.multivariate_normal([0, 0], [[1e-4, 5e-5], [5e-5, 2e-4]], size=2000)
    fields = {
        "returns": returns,
        "weights": np.array([0.6, 0.4]),
        "notional": 1e6,
        "mc_paths": 100_000,
        "seed": 5,
    }
    new = VaRCalculationEngine().calculate_var_sync(VaRRequest(method=VaRMethod.MONTE_CARLO, **fields))
    old = DriftRiskEngine().calculate_var_sync(VaRRequest(method=VaRMethod.MONTE_CARLO, **fields))
    parametric = VaRCalculationEngine().calculate_var_sync(VaRRequest(method=VaRMethod.PARAMETRIC, **fields))
    assert new.var == pytest.approx(old.var, rel=1e-9)
    assert new.es == pytest.approx(old.es, rel=1e-9)
    assert new.var == pytest.approx(parametric.var, rel=0.03)


async def test_async_entry_point_accepts_keywords():
    """``await engine.calculate_var(**kwargs)`` works as the ADR shows and equals the sync result."""
    returns = np.random.default_rng(2).normal(0, 0.01, (250, 2))
    kwargs = {"returns": returns, "weights": np.array([0.5, 0.5]), "notional": 1e6}
    for engine in ENGINES:
        result = await engine.calculate_var(**kwargs)
        assert result == engine.calculate_var_sync(VaRRequest(**kwargs))


def test_batch_and_single_request_agree():
    """The batch core and the single-request path give the same numbers."""
    from runbook.engines.batches import VaRBatch

    returns = np.random.default_rng(4).normal(0, 0.01, (3, 250, 2))
    weights = np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])
    batch = VaRBatch(
        returns, weights, np.full(3, 1e6), np.array([0.99, 0.95, 0.99]), np.array([1.0, 1.0, 10.0])
    )
    for engine in ENGINES:
        out = engine.var_batch(batch)
        for i in range(3):
            single = engine.calculate_var_sync(
                VaRRequest(returns[i], weights[i], 1e6, batch.confidence[i], int(batch.horizon_days[i]))
            )
            assert single.var == pytest.approx(out["var"][i], rel=1e-12)
            assert single.es == pytest.approx(out["es"][i], rel=1e-12)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"returns": [[0.01, np.nan], [0.0, 0.01]]}, "NaN"),
        ({"weights": [1.0, 0.0, 0.0]}, "mismatched shapes"),
        ({"returns": np.zeros((0, 2))}, "empty"),
        ({"returns": [[0.01, 0.02]]}, "at least 2"),
        ({"confidence": 1.5}, "confidence"),
        ({"notional": -5.0}, "notional"),
        ({"method": "magic"}, "unknown VaR method"),
        ({"horizon_days": 0}, "horizon_days"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(fields, message):
    """Bad VaR requests raise BadInputData naming the problem, before any engine runs."""
    base = {"returns": [[0.01, 0.0], [-0.02, 0.01], [0.0, 0.0]], "weights": [0.5, 0.5], "notional": 1e6}
    with pytest.raises(BadInputData, match=message):
        VaRRequest(**(base | fields))
