"""Published numbers (reference/oracles.md) reproduced by both engines' code paths."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.engines import black_scholes
from runbook.engines.batches import VaRBatch
from runbook.engines.hedging import HedgeRequirementsCalculator
from runbook.engines.legacy import DriftRiskEngine
from runbook.engines.legacy_hedging import DriftHedgingEngine, _legacy_bs
from runbook.engines.var import VaRCalculationEngine

# case, S, K, q, r, T, sigma, is_call, greek, value (Haug 1998)
HAUG = [
    ("call price", 60, 65, 0.0, 0.08, 0.25, 0.30, True, "price", 2.1334),
    ("call delta", 105, 100, 0.10, 0.10, 0.5, 0.36, True, "delta", 0.5946),
    ("put delta", 105, 100, 0.10, 0.10, 0.5, 0.36, False, "delta", -0.3566),
    ("gamma", 55, 60, 0.0, 0.10, 0.75, 0.30, True, "gamma", 0.0278),
    ("vega", 55, 60, 0.0, 0.10, 0.75, 0.30, True, "vega", 18.9358),
    ("put theta", 430, 405, 0.05, 0.07, 1 / 12, 0.20, False, "theta", -31.1924),
    ("call rho", 72, 75, 0.0, 0.09, 1.0, 0.19, True, "rho", 38.7325),
]


@pytest.mark.parametrize(("case", "s", "k", "q", "r", "t", "vol", "call", "greek", "value"), HAUG)
def test_black_scholes_haug_table(case, s, k, q, r, t, vol, call, greek, value):
    """The vectorised Black-Scholes reproduces Haug's table to 1e-4."""
    result = getattr(black_scholes.greeks(s, k, t, r, q, vol, call), greek)
    assert float(result) == pytest.approx(value, abs=1e-4), case


@pytest.mark.parametrize(("case", "s", "k", "q", "r", "t", "vol", "call", "greek", "value"), HAUG[:5])
def test_legacy_black_scholes_haug_table(case, s, k, q, r, t, vol, call, greek, value):
    """The legacy erfc/put-call-parity Black-Scholes reproduces the same table (price, delta, gamma, vega)."""
    price, delta, gamma, vega = _legacy_bs(s, k, t, r, q, vol, call)
    result = {"price": price, "delta": delta, "gamma": gamma, "vega": vega}[greek]
    assert float(result) == pytest.approx(value, abs=1e-4), case


def test_hull_delta_hedging_example():
    """Hull's example: S=49, K=50, r=5%, sigma=20%, T=20/52 gives call 2.4005 and delta 0.522."""
    g = black_scholes.greeks(49.0, 50.0, 20 / 52, 0.05, 0.0, 0.20, True)
    assert float(g.price) == pytest.approx(2.4005, abs=1e-4)
    assert float(g.delta) == pytest.approx(0.522, abs=1e-3)
    assert float(black_scholes.price(49.0, 50.0, 20 / 52, 0.05, 0.0, 0.20, True)) == pytest.approx(
        2.4005, abs=1e-4
    )


def test_day_count_moves_hull_call_by_about_a_fifth_of_a_percent():
    """20/52 vs 140/365 years moves Hull's call by ~0.19%: far more than the ADR's 0.001%."""
    a = float(black_scholes.price(49.0, 50.0, 20 / 52, 0.05, 0.0, 0.20))
    b = float(black_scholes.price(49.0, 50.0, 140 / 365, 0.05, 0.0, 0.20))
    assert abs(a - b) / a == pytest.approx(0.0019, abs=0.0002)


def _hull_series(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Spot and futures changes with exactly rho=0.8, sigma_S=1.2, sigma_F=1.0 in sample."""
    rng = np.random.default_rng(7)
    raw = rng.standard_normal((n, 2))
    raw -= raw.mean(axis=0)
    whitened = raw @ np.linalg.inv(np.linalg.cholesky(np.cov(raw, rowvar=False)).T)
    target = np.linalg.cholesky(np.array([[1.44, 0.96], [0.96, 1.0]]))
    paired = whitened @ target.T
    return paired[:, 0], paired[:, 1]


@pytest.mark.parametrize("engine", [HedgeRequirementsCalculator(), DriftHedgingEngine()])
def test_minimum_variance_hedge_hull(engine):
    """rho 0.8, sigma_S 1.2, sigma_F 1.0: h* = 0.96, N* = 19.2 for 10,000 units vs 500, HE = 0.64."""
    from runbook.engines.hedging import batch_of_one
    from runbook.engines.requests import HedgeRequest, OptionBook

    spot, futures = _hull_series()
    book = OptionBook(np.array([100.0]), np.array([30.0]), np.array([0.0]), np.array([True]))
    request = HedgeRequest(spot, futures, 10_000.0, 500.0, 1.0, book, 100.0)
    out = engine.hedge_batch(batch_of_one(request))
    assert out["hedge_ratio"][0] == pytest.approx(0.96, rel=1e-12)
    assert out["contracts"][0] == pytest.approx(19.2, rel=1e-12)
    assert out["effectiveness"][0] == pytest.approx(0.64, rel=1e-12)


@pytest.mark.parametrize("engine", [VaRCalculationEngine(), DriftRiskEngine()], ids=["candidate", "legacy"])
def test_normal_multipliers(engine):
    """Delta-normal VaR / ES of both engines are z_c sigma and phi(z_c)/(1-c) sigma with the published
    constants z(0.95) = 1.644854, z(0.975) = 1.959964, z(0.99) = 2.326348 and ES multipliers
    2.062713, 2.337803, 2.665214; sigma is the sample standard deviation of the window's P&L."""
    levels = np.array([0.95, 0.975, 0.99])
    returns = np.random.default_rng(5).normal(0.0, 0.01, (1, 250, 2)).repeat(3, axis=0)
    batch = VaRBatch(returns, np.array([[0.6, 0.4]] * 3), np.full(3, 1e6), levels, np.ones(3))
    out = engine.var_batch(batch)
    sigma = (1e6 * np.expm1(returns[0]) @ np.array([0.6, 0.4])).std(ddof=1)
    assert out["var_parametric"] / sigma == pytest.approx([1.644854, 1.959964, 2.326348], abs=1e-6)
    assert out["es_parametric"] / sigma == pytest.approx([2.062713, 2.337803, 2.665214], abs=1e-6)
