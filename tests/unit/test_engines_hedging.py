"""Hedge engines: option-book Greeks hedges, legacy vs candidate agreement, Monte Carlo P&L, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.engines import black_scholes
from runbook.engines.hedging import HedgeRequirementsCalculator
from runbook.engines.legacy_hedging import DriftHedgingEngine
from runbook.engines.requests import HEDGE_METRICS, HedgeRequest, OptionBook
from runbook.errors import BadInputData
from runbook.scenarios.replay import replay_requests


def _request(quantities=(100.0, -50.0), exposure=1e6) -> HedgeRequest:
    rng = np.random.default_rng(1)
    futures = rng.normal(0, 0.01, 250)
    spot = 0.9 * futures + rng.normal(0, 0.004, 250)
    book = OptionBook(
        np.array([95.0, 105.0]), np.array([30.0, 60.0]), np.array(quantities), np.array([False, True])
    )
    return HedgeRequest(spot, futures, exposure, 100.0, 50.0, book, 100.0)


def test_gamma_and_vega_hedges_neutralise_the_book():
    """Book gamma + n * hedge gamma = 0 and book delta + n * hedge delta + units = 0 after the gamma hedge."""
    engine = HedgeRequirementsCalculator()
    request = _request()
    result = engine.calculate_hedge_sync(request)
    vol = float(engine.volatility(request.futures_returns[None])[0])
    h91 = black_scholes.greeks(100.0, 100.0, 91 / 365, 0.02, 0.015, vol, True)
    h365 = black_scholes.greeks(100.0, 100.0, 365 / 365, 0.02, 0.015, vol, True)
    assert result.book_gamma + result.gamma_hedge_options * float(h91.gamma) == pytest.approx(0.0, abs=1e-12)
    residual_delta = (
        result.book_delta + result.gamma_hedge_options * float(h91.delta) + result.gamma_delta_units
    )
    assert residual_delta == pytest.approx(0.0, abs=1e-9)
    assert result.book_vega + result.vega_hedge_options * float(h365.vega) == pytest.approx(0.0, abs=1e-9)
    assert result.delta_hedge_units == -result.book_delta


def test_contracts_follow_exposure_and_contract_size():
    """N* = h* * exposure / (futures price * multiplier)."""
    result = HedgeRequirementsCalculator().calculate_hedge_sync(_request(exposure=2e6))
    assert result.contracts == pytest.approx(result.hedge_ratio * 2e6 / (100.0 * 50.0), rel=1e-12)


def test_legacy_and_candidate_agree_on_replayed_requests():
    """Every HedgeResult field agrees within 1e-9 relative on requests drawn from real history."""
    old, new = DriftHedgingEngine(), HedgeRequirementsCalculator()
    for _, request in replay_requests("hedge_calculator", count=40, seed=3):
        a, b = old.calculate_hedge_sync(request), new.calculate_hedge_sync(request)
        for name in HEDGE_METRICS:
            assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-9, abs=1e-9), name


def test_simulated_pnl_agrees_and_hedge_reduces_variance():
    """Monte Carlo hedged P&L agrees between engines and has lower variance than unhedged."""
    from runbook.scenarios.loader import load_market_history
    from runbook.scenarios.montecarlo import hedge_mc

    chunk = next(hedge_mc(load_market_history(), count=8_000, seed=2))
    old = DriftHedgingEngine().simulate_hedged_pnl(chunk.batch)
    new = HedgeRequirementsCalculator().simulate_hedged_pnl(chunk.batch)
    for name in ("hedged_pnl", "unhedged_pnl", "option_pnl"):
        np.testing.assert_allclose(new[name], old[name], rtol=1e-9, atol=1e-6)
    assert new["hedged_pnl"].var() < 0.5 * new["unhedged_pnl"].var()


async def test_async_hedge_entry_point():
    """``await calculator.calculate_hedge(request)`` returns the sync result."""
    request = _request()
    assert await HedgeRequirementsCalculator().calculate_hedge(request) == (
        HedgeRequirementsCalculator().calculate_hedge_sync(request)
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"futures_returns": np.zeros(10)}, "mismatched shapes"),
        ({"exposure": 0.0}, "exposure"),
        ({"spot_returns": np.full(250, np.nan)}, "NaN"),
    ],
)
def test_bad_hedge_requests(change, message):
    """Mismatched windows, non-positive exposure and NaN returns raise BadInputData."""
    base = _request()
    fields = {name: getattr(base, name) for name in HedgeRequest.__dataclass_fields__} | change
    with pytest.raises(BadInputData, match=message):
        HedgeRequest(**fields)


def test_option_book_with_non_positive_strike_is_refused():
    """A zero strike is a bad input, named in the message."""
    with pytest.raises(BadInputData, match="non-positive"):
        OptionBook(np.array([0.0]), np.array([30.0]), np.array([1.0]), np.array([True]))
