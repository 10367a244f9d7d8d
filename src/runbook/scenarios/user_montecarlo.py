"""Monte Carlo requests calibrated on a firm's market data, for the single-request callables.

Calibration: the sample mean and covariance (ddof=1) of the daily log returns of every asset in
the market data given. Gaps: rows dropped, never filled and never pairwise: only the dates on which
every asset has a return count (a pairwise covariance of series with different gaps need not be
positive semi-definite, and Cholesky would refuse it). Each Monte Carlo request is a VaR request
like the historical ones, its ``returns`` a simulated window of ``WINDOW`` days drawn from the
multivariate normal with that mean and covariance (Cholesky, PCG64 seeded per request).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runbook.engines._random import cholesky, correlated_normals
from runbook.errors import BadInputData
from runbook.scenarios.generated import CONFIDENCES, HORIZONS, WINDOW
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.requests_file import Request
from runbook.scenarios.user_data import UserPortfolio

GAPS = "rows dropped"
MIN_ROWS = 30


@dataclass(frozen=True, slots=True, eq=False)
class ReturnCalibration:
    """Mean and covariance of daily log returns by asset, and which rows they came from."""

    assets: tuple[str, ...]
    mean: np.ndarray
    covariance: np.ndarray
    rows_used: int
    rows_dropped: int
    first_date: str
    last_date: str

    def to_dict(self) -> dict[str, Any]:
        """The ``monte_carlo`` entry of the report's ``data`` block."""
        volatility = np.sqrt(np.diag(self.covariance))
        correlation = self.covariance / np.outer(volatility, volatility)
        return {
            "model": "multivariate normal daily log returns, sample mean and covariance (ddof=1)",
            "gaps": f"{GAPS}: only dates on which every asset has a return ({self.rows_dropped} of "
                    f"{self.rows_used + self.rows_dropped} return dates dropped; not pairwise, never filled)",
            "rows_used": self.rows_used, "rows_dropped": self.rows_dropped,
            "first_date": self.first_date, "last_date": self.last_date,
            "assets": list(self.assets),
            "mean": {a: float(m) for a, m in zip(self.assets, self.mean, strict=True)},
            "volatility": {a: float(v) for a, v in zip(self.assets, volatility, strict=True)},
            "correlation": [[float(c) for c in row] for row in correlation],
        }  # fmt: skip


def calibrate_returns(history: MarketHistory) -> ReturnCalibration:
    """Mean and covariance of the daily log returns on the dates every asset has one."""
    returns, dates = history.log_returns(), history.dates[1:]
    complete = np.isfinite(returns).all(axis=1)
    used = returns[complete]
    if used.shape[0] < MIN_ROWS:
        raise BadInputData(f"Monte Carlo calibration needs {MIN_ROWS} dates on which every asset has a "
                           f"return; the market data has {used.shape[0]}")  # fmt: skip
    kept = dates[complete]
    covariance = np.atleast_2d(np.cov(used, rowvar=False, ddof=1))
    return ReturnCalibration(history.assets, used.mean(axis=0), covariance, int(used.shape[0]),
                             int((~complete).sum()), str(kept[0]), str(kept[-1]))  # fmt: skip


def monte_carlo_requests(
    calibration: ReturnCalibration, portfolios: Sequence[UserPortfolio], *, count: int, seed: int = 0,
    window: int = WINDOW,
) -> list[Request]:
    """``count`` VaR requests, portfolios in turn, each on a simulated ``window``-day return window."""
    factor = cholesky(calibration.covariance)
    index = {asset: i for i, asset in enumerate(calibration.assets)}
    out = []
    for i in range(count):
        portfolio = portfolios[i % len(portfolios)]
        draws = correlated_normals(factor, window, seed=seed, chunk=i, mean=calibration.mean)
        horizon = HORIZONS[(i // len(portfolios)) % 2]
        confidence = CONFIDENCES[(i // (2 * len(portfolios))) % 2]
        returns = {asset: draws[:, index[asset]].copy() for asset in portfolio.positions}
        kwargs = {"positions": dict(portfolio.positions), "returns": returns, "confidence": confidence,
                  "horizon_days": horizon}  # fmt: skip
        out.append(Request(f"mc{i}:{portfolio.portfolio_id} {horizon}d {confidence:g}", kwargs,
                           portfolio.portfolio_id))  # fmt: skip
    return out
