"""The legacy monolith's market data, performance and correlation code paths (part of DriftRiskEngine).

The old way: forward-filled indices and NaN-aware reductions for returns, asset-by-asset loops for
portfolio values, pair-by-pair loops for correlations. Same conventions as the candidates.
"""

from __future__ import annotations

import numpy as np

from runbook.engines._calls import coerce_request
from runbook.engines.batches import PortfolioWindowBatch, PriceWindowBatch, ReturnWindowBatch
from runbook.engines.conventions import TRADING_DAYS_PER_YEAR
from runbook.engines.requests import (
    CorrelationRequest,
    CorrelationResult,
    MarketDataRequest,
    MarketDataResult,
    PerformanceRequest,
    PerformanceResult,
)
from runbook.errors import BadInputData


class LegacyMarketDataMixin:
    """get_returns / returns_batch of the monolith."""

    async def get_returns(
        self, request: MarketDataRequest | None = None, /, **fields: object
    ) -> MarketDataResult:
        return self.get_returns_sync(request, **fields)

    def get_returns_sync(
        self, request: MarketDataRequest | None = None, /, **fields: object
    ) -> MarketDataResult:
        req = coerce_request(MarketDataRequest, request, fields)
        out = self.returns_batch(PriceWindowBatch(req.prices[None, :]))
        return MarketDataResult(*(float(out[name][0]) for name in MarketDataResult.__dataclass_fields__))

    def returns_batch(self, batch: PriceWindowBatch) -> dict[str, np.ndarray]:
        prices = batch.prices
        scenarios, days = prices.shape
        valid = np.isfinite(prices)
        last_valid = np.maximum.accumulate(np.where(valid, np.arange(days), -1), axis=1)
        previous = np.full_like(last_valid, -1)
        previous[:, 1:] = last_valid[:, :-1]
        has_return = valid & (previous >= 0)
        log_prices = np.log(prices)
        rows = np.arange(scenarios)[:, None]
        returns = np.where(has_return, log_prices - log_prices[rows, np.maximum(previous, 0)], np.nan)
        return {
            "mean_return": np.nanmean(returns, axis=1),
            "volatility": np.nanstd(returns, axis=1, ddof=1),
            "total_return": np.nansum(returns, axis=1),
            "observations": has_return.sum(axis=1).astype(float),
        }


class LegacyPerformanceMixin:
    """analyze_performance / performance_batch of the monolith."""

    async def analyze_performance(
        self, request: PerformanceRequest | None = None, /, **fields: object
    ) -> PerformanceResult:
        return self.analyze_performance_sync(request, **fields)

    def analyze_performance_sync(
        self, request: PerformanceRequest | None = None, /, **fields: object
    ) -> PerformanceResult:
        req = coerce_request(PerformanceRequest, request, fields)
        batch = PortfolioWindowBatch(req.prices[None], req.weights[None], req.risk_free_rate)
        out = self.performance_batch(batch)
        return PerformanceResult(*(float(out[name][0]) for name in PerformanceResult.__dataclass_fields__))

    def performance_batch(self, batch: PortfolioWindowBatch) -> dict[str, np.ndarray]:
        prices = batch.prices
        value = np.zeros(prices.shape[:2])
        for asset in range(prices.shape[2]):
            value += batch.weights[:, asset : asset + 1] * prices[:, :, asset] / prices[:, :1, asset]
        if np.any(value <= 0):
            raise BadInputData("portfolio value is <= 0 on some date; weights must keep the value positive")
        daily = np.diff(value, axis=1) / value[:, :-1]
        years = daily.shape[1] / TRADING_DAYS_PER_YEAR
        volatility = np.sqrt(daily.var(axis=1, ddof=1) * TRADING_DAYS_PER_YEAR)
        peak = np.maximum.accumulate(value, axis=1)
        return {
            "annual_return": np.exp(np.log(value[:, -1] / value[:, 0]) / years) - 1.0,
            "annual_volatility": volatility,
            "sharpe": (daily.mean(axis=1) * TRADING_DAYS_PER_YEAR - batch.risk_free_rate) / volatility,
            "max_drawdown": np.max((peak - value) / peak, axis=1),
        }


class LegacyCorrelationMixin:
    """calculate_correlations / correlation_batch of the monolith."""

    async def calculate_correlations(
        self, request: CorrelationRequest | None = None, /, **fields: object
    ) -> CorrelationResult:
        return self.calculate_correlations_sync(request, **fields)

    def calculate_correlations_sync(
        self, request: CorrelationRequest | None = None, /, **fields: object
    ) -> CorrelationResult:
        req = coerce_request(CorrelationRequest, request, fields)
        out = self.correlation_batch(ReturnWindowBatch(req.returns[None]))
        return CorrelationResult(tuple(float(values[0]) for values in out.values()))

    def correlation_batch(self, batch: ReturnWindowBatch) -> dict[str, np.ndarray]:
        returns = batch.returns
        assets = returns.shape[2]
        complete = ~np.isnan(returns).any(axis=2)
        count = complete.sum(axis=1)
        out: dict[str, np.ndarray] = {}
        for i in range(assets):
            for j in range(i + 1, assets):
                x = np.where(complete, returns[:, :, i], 0.0)
                y = np.where(complete, returns[:, :, j], 0.0)
                x_dev = np.where(complete, x - (x.sum(axis=1) / count)[:, None], 0.0)
                y_dev = np.where(complete, y - (y.sum(axis=1) / count)[:, None], 0.0)
                numerator = (x_dev * y_dev).sum(axis=1)
                out[f"rho_{i}_{j}"] = numerator / np.sqrt((x_dev**2).sum(axis=1) * (y_dev**2).sum(axis=1))
        return out
