"""MarketDataProvider: the candidate for ``market_data_provider``.

Daily log returns of a price window with explicit gaps: a missing close is never filled; the
return over a gap runs from the last valid close to the next one and is booked on the latter.
"""

from __future__ import annotations

import numpy as np

from runbook.engines._calls import coerce_request
from runbook.engines.batches import PriceWindowBatch
from runbook.engines.requests import MarketDataRequest, MarketDataResult

MARKET_DATA_METRICS = ("volatility", "mean_return", "total_return", "observations")


class MarketDataProvider:
    """Return summaries (mean, daily volatility, total log return, count) of price windows."""

    async def get_returns(
        self, request: MarketDataRequest | None = None, /, **fields: object
    ) -> MarketDataResult:
        """Async entry point."""
        return self.get_returns_sync(request, **fields)

    def get_returns_sync(
        self, request: MarketDataRequest | None = None, /, **fields: object
    ) -> MarketDataResult:
        """Summary of one window."""
        req = coerce_request(MarketDataRequest, request, fields)
        out = self._summaries(req.prices[None, :])
        return MarketDataResult(
            mean_return=float(out["mean_return"][0]),
            volatility=float(out["volatility"][0]),
            total_return=float(out["total_return"][0]),
            observations=float(out["observations"][0]),
        )

    def returns_batch(self, batch: PriceWindowBatch) -> dict[str, np.ndarray]:
        """Summaries of every window in the batch (metrics in ``MARKET_DATA_METRICS``)."""
        return self._summaries(batch.prices)

    def _prepare(self, prices: np.ndarray) -> np.ndarray:
        """Prices as the core sees them (the shipped engine leaves gaps as gaps)."""
        return prices

    def _summaries(self, prices: np.ndarray) -> dict[str, np.ndarray]:
        prices = self._prepare(prices)
        dense = np.isfinite(prices.sum(axis=1))
        out = {name: np.empty(prices.shape[0]) for name in MARKET_DATA_METRICS}
        for rows, summary in ((dense, _dense_summaries), (~dense, _gapped_summaries)):
            if rows.any():
                for name, values in summary(prices[rows]).items():
                    out[name][rows] = values
        return out


def _dense_summaries(prices: np.ndarray) -> dict[str, np.ndarray]:
    """Windows without gaps: plain differences of log closes."""
    returns = np.diff(np.log(prices), axis=1)
    return {
        "volatility": returns.std(axis=1, ddof=1),
        "mean_return": returns.mean(axis=1),
        "total_return": returns.sum(axis=1),
        "observations": np.full(prices.shape[0], float(returns.shape[1])),
    }


def _gapped_summaries(prices: np.ndarray) -> dict[str, np.ndarray]:
    """Windows with gaps: consecutive valid closes of a row give one return (gaps spanned, not filled)."""
    rows, columns = np.nonzero(np.isfinite(prices))
    same_row = rows[1:] == rows[:-1]
    returns = np.diff(np.log(prices[rows, columns]))[same_row]
    row_of = rows[1:][same_row]
    scenarios = prices.shape[0]
    count = np.bincount(row_of, minlength=scenarios).astype(float)
    total = np.bincount(row_of, weights=returns, minlength=scenarios)
    mean = total / count
    deviations = returns - mean[row_of]
    variance = np.bincount(row_of, weights=deviations * deviations, minlength=scenarios) / (count - 1)
    return {
        "volatility": np.sqrt(variance),
        "mean_return": mean,
        "total_return": total,
        "observations": count,
    }
