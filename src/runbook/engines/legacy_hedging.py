"""DriftHedgingEngine: the legacy monolith for ``hedge_calculator``.

Written the old way: the hedge ratio as Cov(S, F) / Var(F) from covariance matrices, the
effectiveness measured on the hedged return series, Black-Scholes through ``erfc`` with puts by
put-call parity, and option books looped option by option. Same conventions as the candidate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc

from runbook.engines.batches import HedgeBatch, HedgeSimulationBatch
from runbook.engines.conventions import DAYS_PER_YEAR, TRADING_DAYS_PER_YEAR
from runbook.engines.requests import HEDGE_METRICS, HedgeRequest, HedgeResult
from runbook.errors import BadInputData

_SQRT2 = math.sqrt(2.0)


def _cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * erfc(-x / _SQRT2)


def _legacy_bs(spot, strike, years, rate, carry, vol, is_call):
    """(price, delta, gamma, vega) with puts derived from calls by parity."""
    root = np.sqrt(years)
    d1 = (np.log(spot / strike) + (rate - carry + vol * vol / 2.0) * years) / (vol * root)
    d2 = d1 - vol * root
    growth, discount = np.exp(-carry * years), np.exp(-rate * years)
    call = spot * growth * _cdf(d1) - strike * discount * _cdf(d2)
    put = call - spot * growth + strike * discount
    density = np.exp(-d1 * d1 / 2.0) / math.sqrt(2.0 * math.pi)
    call_delta = growth * _cdf(d1)
    price = np.where(is_call, call, put)
    delta = np.where(is_call, call_delta, call_delta - growth)
    gamma = growth * density / (spot * vol * root)
    vega = spot * growth * density * root
    return price, delta, gamma, vega


class DriftHedgingEngine:
    """The legacy hedging monolith."""

    async def calculate_hedge(self, request: HedgeRequest | None = None, /, **fields: object) -> HedgeResult:
        """The ADR's async entry point."""
        return self.calculate_hedge_sync(request, **fields)

    def calculate_hedge_sync(self, request: HedgeRequest | None = None, /, **fields: object) -> HedgeResult:
        """One request through the batch code path."""
        from runbook.engines.hedging import batch_of_one

        req = request if request is not None else HedgeRequest(**fields)  # type: ignore[arg-type]
        if not isinstance(req, HedgeRequest):
            raise BadInputData(f"expected a HedgeRequest, got {type(req).__name__}")
        out = self.hedge_batch(batch_of_one(req))
        return HedgeResult(*(float(out[name][0]) for name in HEDGE_METRICS))

    def hedge_batch(self, batch: HedgeBatch) -> dict[str, np.ndarray]:
        """Every metric of ``HedgeResult`` for every scenario."""
        spot, futures = batch.spot_returns, batch.futures_returns
        days = spot.shape[1]
        spot_mean, futures_mean = spot.mean(axis=1)[:, None], futures.mean(axis=1)[:, None]
        covariance = ((spot - spot_mean) * (futures - futures_mean)).sum(axis=1) / (days - 1)
        futures_variance = ((futures - futures_mean) ** 2).sum(axis=1) / (days - 1)
        ratio = covariance / futures_variance
        hedged = spot - ratio[:, None] * futures
        effectiveness = 1.0 - hedged.var(axis=1, ddof=1) / spot.var(axis=1, ddof=1)
        out = {
            "hedge_ratio": ratio,
            "contracts": ratio * batch.exposure / batch.futures_price / batch.multiplier,
            "effectiveness": effectiveness,
        }
        out.update(self._book(batch))
        return out

    def _book(self, batch: HedgeBatch) -> dict[str, np.ndarray]:
        vol = batch.futures_returns.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR)
        spot, rate, carry = batch.underlying_price, batch.rate, batch.dividend_yield
        totals = {name: np.zeros(len(batch)) for name in ("value", "delta", "gamma", "vega")}
        for k in range(batch.strikes.shape[1]):
            years = batch.expiry_days[:, k] / DAYS_PER_YEAR
            greeks = _legacy_bs(spot, batch.strikes[:, k], years, rate, carry, vol, batch.is_call[:, k])
            for name, values in zip(totals, greeks, strict=True):
                totals[name] += batch.quantities[:, k] * values
        _, delta_91, gamma_91, _ = _legacy_bs(spot, spot, 91.0 / DAYS_PER_YEAR, rate, carry, vol, True)
        _, _, _, vega_365 = _legacy_bs(spot, spot, 365.0 / DAYS_PER_YEAR, rate, carry, vol, True)
        gamma_options = -totals["gamma"] / gamma_91
        return {
            "book_value": totals["value"],
            "book_delta": totals["delta"],
            "book_gamma": totals["gamma"],
            "book_vega": totals["vega"],
            "delta_hedge_units": -totals["delta"],
            "gamma_hedge_options": gamma_options,
            "gamma_delta_units": -totals["delta"] - gamma_options * delta_91,
            "vega_hedge_options": -totals["vega"] / vega_365,
        }

    def simulate_hedged_pnl(self, batch: HedgeSimulationBatch) -> dict[str, np.ndarray]:
        """Per draw: unhedged, futures-hedged and option-book P&L (currency)."""
        calibration = self.hedge_batch(batch.books)
        books, b = batch.books, batch.book_index
        futures_notional = calibration["contracts"] * books.futures_price * books.multiplier
        unhedged = books.exposure[b] * (np.exp(batch.spot_returns) - 1.0)
        hedged = unhedged - futures_notional[b] * (np.exp(batch.futures_returns) - 1.0)
        vol = books.futures_returns.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR)
        option_pnl = np.zeros(len(batch))
        moved = books.underlying_price[b] * np.exp(batch.underlying_returns)
        for k in range(books.strikes.shape[1]):
            years = books.expiry_days[:, k] / DAYS_PER_YEAR
            args = (books.rate, books.dividend_yield, vol)
            today, *_ = _legacy_bs(
                books.underlying_price, books.strikes[:, k], years, *args, books.is_call[:, k]
            )
            tomorrow, *_ = _legacy_bs(
                moved,
                books.strikes[b, k],
                years[b] - 1.0 / DAYS_PER_YEAR,
                args[0][b],
                args[1][b],
                args[2][b],
                books.is_call[b, k],
            )
            option_pnl += books.quantities[b, k] * (tomorrow - today[b])
        return {"hedged_pnl": hedged, "unhedged_pnl": unhedged, "option_pnl": option_pnl}
