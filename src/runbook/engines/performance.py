"""PerformanceAnalyzer: the candidate for ``performance_analyzer``.

A buy-and-hold portfolio of initial value weights; daily simple returns of its value; annualised
with 252 trading days; Sharpe ratio over a constant risk-free rate; max drawdown from the peak.
"""

from __future__ import annotations

import numpy as np

from runbook.engines._calls import coerce_request
from runbook.engines.batches import PortfolioWindowBatch
from runbook.engines.conventions import TRADING_DAYS_PER_YEAR
from runbook.engines.requests import PerformanceRequest, PerformanceResult
from runbook.errors import BadInputData

PERFORMANCE_METRICS = ("sharpe", "annual_return", "annual_volatility", "max_drawdown")


class PerformanceAnalyzer:
    """Return, volatility, Sharpe ratio and max drawdown of portfolio windows."""

    days_per_year: float = TRADING_DAYS_PER_YEAR

    async def analyze_performance(
        self, request: PerformanceRequest | None = None, /, **fields: object
    ) -> PerformanceResult:
        """Async entry point."""
        return self.analyze_performance_sync(request, **fields)

    def analyze_performance_sync(
        self, request: PerformanceRequest | None = None, /, **fields: object
    ) -> PerformanceResult:
        """Performance of one window."""
        req = coerce_request(PerformanceRequest, request, fields)
        out = self._metrics(req.prices[None], req.weights[None], req.risk_free_rate)
        return PerformanceResult(**{name: float(values[0]) for name, values in out.items()})

    def performance_batch(self, batch: PortfolioWindowBatch) -> dict[str, np.ndarray]:
        """Metrics (``PERFORMANCE_METRICS``) of every window."""
        return self._metrics(batch.prices, batch.weights, batch.risk_free_rate)

    def _metrics(self, prices: np.ndarray, weights: np.ndarray, risk_free: float) -> dict[str, np.ndarray]:
        # Units held per asset = weight / first close; value = closes @ units (no rescaled price copy).
        value = (prices @ (weights / prices[:, 0, :])[:, :, None])[:, :, 0]
        if (value <= 0).any():
            raise BadInputData("portfolio value is <= 0 on some date; weights must keep the value positive")
        daily = value[:, 1:] / value[:, :-1] - 1.0
        days = daily.shape[1]
        growth = value[:, -1] / value[:, 0]
        annual_return = growth ** (self.days_per_year / days) - 1.0
        annual_volatility = daily.std(axis=1, ddof=1) * np.sqrt(self.days_per_year)
        sharpe = (daily.mean(axis=1) * self.days_per_year - risk_free) / annual_volatility
        drawdown = 1.0 - value / np.maximum.accumulate(value, axis=1)
        return {
            "sharpe": sharpe,
            "annual_return": annual_return,
            "annual_volatility": annual_volatility,
            "max_drawdown": drawdown.max(axis=1),
        }
