"""The engine every wrapper in peer_overhead.py wraps: one-day historical VaR, 250 days x 10 assets.

A module of its own so that the router's candidate processes can import it by name.
"""

from __future__ import annotations

import numpy as np

DAYS, ASSETS = 250, 10
RETURNS = np.random.default_rng(11).normal(0.0, 0.012, size=(DAYS, ASSETS))
WEIGHTS = np.full(ASSETS, 1.0 / ASSETS)


def historical_var(returns: np.ndarray, weights: np.ndarray, confidence: float = 0.99) -> float:
    """Loss (positive) not exceeded on ``confidence`` of the historical days, per unit of exposure."""
    pnl = returns @ weights
    return float(-np.quantile(pnl, 1.0 - confidence))


def historical_var_new(returns: np.ndarray, weights: np.ndarray, confidence: float = 0.99) -> float:
    """The candidate: the same figure computed the same way (a refactoring that kept the numbers)."""
    pnl = np.dot(returns, weights)
    return float(-np.quantile(pnl, 1.0 - confidence))

