"""A desk's own VaR engine, old and new: plain functions, no runbook types.

``positions``: currency value per asset; ``returns``: daily log returns per asset, oldest first.
Both return VaR and Expected Shortfall as positive currency over ``horizon_days``.
"""

import math

import numpy as np


def var_v1(positions, returns, confidence, horizon_days):
    """The desk's original engine: a Python loop over days."""
    assets = list(positions)
    days = len(returns[assets[0]])
    losses = [-sum(positions[a] * math.expm1(returns[a][d]) for a in assets) for d in range(days)]
    var = float(np.quantile(losses, confidence))
    tail = [loss for loss in losses if loss >= var]
    scale = math.sqrt(horizon_days)
    return {"var": var * scale, "es": sum(tail) / len(tail) * scale}


def var_v2(positions, returns, confidence, horizon_days):
    """The rewrite: vectorised with numpy."""
    exposure = np.array(list(positions.values()), dtype=float)
    moves = np.expm1(np.column_stack([np.asarray(returns[a], dtype=float) for a in positions]))
    losses = -(moves @ exposure)
    var = np.quantile(losses, confidence)
    scale = np.sqrt(horizon_days)
    return {"var": float(var * scale), "es": float(losses[losses >= var].mean() * scale)}


def var_v2_linear_horizon(positions, returns, confidence, horizon_days):
    """A rewrite with a defect: scales by the horizon instead of its square root."""
    one_day = var_v2(positions, returns, confidence, 1)
    return {name: value * horizon_days for name, value in one_day.items()}
