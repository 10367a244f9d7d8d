"""HedgeRequirementsCalculator: the candidate for ``hedge_calculator`` (vectorised numpy core).

Minimum-variance futures hedge h* = rho * sigma_S / sigma_F from window returns, contracts
N* = h* * exposure / contract size, in-sample effectiveness 1 - Var(hedged) / Var(unhedged);
Black-Scholes Greeks of the option book (ACT/365, volatility = realised futures volatility
annualised with 252 days) and delta, gamma (91-day ATM call) and vega (365-day ATM call) hedges.
"""

from __future__ import annotations

import numpy as np

from runbook.engines import black_scholes
from runbook.engines._calls import coerce_request
from runbook.engines.batches import HedgeBatch, HedgeSimulationBatch
from runbook.engines.conventions import DAYS_PER_YEAR, TRADING_DAYS_PER_YEAR
from runbook.engines.requests import HEDGE_METRICS, HedgeRequest, HedgeResult

GAMMA_HEDGE_DAYS = 91.0
VEGA_HEDGE_DAYS = 365.0


def batch_of_one(req: HedgeRequest) -> HedgeBatch:
    """A one-scenario batch holding ``req``."""
    book = req.book
    return HedgeBatch(
        spot_returns=req.spot_returns[None],
        futures_returns=req.futures_returns[None],
        exposure=np.array([req.exposure]),
        futures_price=np.array([req.futures_price]),
        multiplier=np.array([req.multiplier]),
        underlying_price=np.array([req.underlying_price]),
        rate=np.array([req.rate]),
        dividend_yield=np.array([req.dividend_yield]),
        strikes=book.strikes[None],
        expiry_days=book.expiry_days[None],
        quantities=book.quantities[None],
        is_call=book.is_call[None],
    )


class HedgeRequirementsCalculator:
    """Futures hedge sizing and option-book Greeks hedges, one request or a batch at once."""

    days_per_year: float = DAYS_PER_YEAR

    async def calculate_hedge(self, request: HedgeRequest | None = None, /, **fields: object) -> HedgeResult:
        """The ADR's async entry point."""
        return self.calculate_hedge_sync(request, **fields)

    def calculate_hedge_sync(self, request: HedgeRequest | None = None, /, **fields: object) -> HedgeResult:
        """Hedge of one request."""
        req = coerce_request(HedgeRequest, request, fields)
        out = self.hedge_batch(batch_of_one(req))
        return HedgeResult(*(float(out[name][0]) for name in HEDGE_METRICS))

    def hedge_batch(self, batch: HedgeBatch) -> dict[str, np.ndarray]:
        """Every metric of ``HedgeResult`` for every scenario."""
        ratio, effectiveness = self.minimum_variance(batch.spot_returns, batch.futures_returns)
        contracts = ratio * batch.exposure / (batch.futures_price * batch.multiplier)
        return {"hedge_ratio": ratio, "contracts": contracts, "effectiveness": effectiveness} | self._book(
            batch
        )

    def minimum_variance(self, spot: np.ndarray, futures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hedge ratio h* and its in-sample variance reduction, per row of (scenarios, days) returns."""
        spot_dev = spot - spot.mean(axis=1, keepdims=True)
        futures_dev = futures - futures.mean(axis=1, keepdims=True)
        var_spot = np.einsum("sd,sd->s", spot_dev, spot_dev)
        var_futures = np.einsum("sd,sd->s", futures_dev, futures_dev)
        covariance = np.einsum("sd,sd->s", spot_dev, futures_dev)
        rho = covariance / np.sqrt(var_spot * var_futures)
        ratio = self._adjust_ratio(rho * np.sqrt(var_spot / var_futures))
        hedged_variance = var_spot - 2.0 * ratio * covariance + ratio**2 * var_futures
        return ratio, 1.0 - hedged_variance / var_spot

    def _adjust_ratio(self, ratio: np.ndarray) -> np.ndarray:
        """Hook for variants (fault injection); the shipped engine uses h* as estimated."""
        return ratio

    def volatility(self, futures: np.ndarray) -> np.ndarray:
        """Realised volatility per sqrt(year) of each row of daily log returns."""
        return futures.std(axis=1, ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)

    def _book(self, batch: HedgeBatch) -> dict[str, np.ndarray]:
        spot = batch.underlying_price[:, None]
        rate, carry = batch.rate[:, None], batch.dividend_yield[:, None]
        vol = self.volatility(batch.futures_returns)[:, None]
        book = black_scholes.greeks(
            spot, batch.strikes, batch.expiry_days / self.days_per_year, rate, carry, vol, batch.is_call
        )
        hedge_days = np.array([[GAMMA_HEDGE_DAYS, VEGA_HEDGE_DAYS]])
        hedges = black_scholes.greeks(spot, spot, hedge_days / self.days_per_year, rate, carry, vol, True)
        quantity = batch.quantities
        value, delta = (quantity * book.price).sum(axis=1), (quantity * book.delta).sum(axis=1)
        gamma, vega = (quantity * book.gamma).sum(axis=1), (quantity * book.vega).sum(axis=1)
        gamma_options = -gamma / hedges.gamma[:, 0]
        return {
            "book_value": value,
            "book_delta": delta,
            "book_gamma": gamma,
            "book_vega": vega,
            "delta_hedge_units": -delta,
            "gamma_hedge_options": gamma_options,
            "gamma_delta_units": -(delta + gamma_options * hedges.delta[:, 0]),
            "vega_hedge_options": -vega / hedges.vega[:, 1],
        }

    def simulate_hedged_pnl(self, batch: HedgeSimulationBatch) -> dict[str, np.ndarray]:
        """Per draw: ``unhedged_pnl``, ``hedged_pnl`` (futures hedge), ``option_pnl`` (full revaluation)."""
        books = batch.books
        ratio, _ = self.minimum_variance(books.spot_returns, books.futures_returns)
        contract_value = ratio * books.exposure  # contracts * contract size, in currency
        b = batch.book_index
        unhedged = books.exposure[b] * np.expm1(batch.spot_returns)
        hedged = unhedged - contract_value[b] * np.expm1(batch.futures_returns)
        return {"hedged_pnl": hedged, "unhedged_pnl": unhedged, "option_pnl": self._option_pnl(batch)}

    def _option_pnl(self, batch: HedgeSimulationBatch) -> np.ndarray:
        books, b = batch.books, batch.book_index
        vol = self.volatility(books.futures_returns)[:, None]
        years = books.expiry_days / self.days_per_year
        args = (books.rate[:, None], books.dividend_yield[:, None], vol)
        spot = books.underlying_price[:, None]
        today = black_scholes.price(spot, books.strikes, years, *args, books.is_call)
        moved = spot[b] * np.exp(batch.underlying_returns)[:, None]
        tomorrow = black_scholes.price(
            moved,
            books.strikes[b],
            years[b] - 1.0 / self.days_per_year,
            args[0][b],
            args[1][b],
            args[2][b],
            books.is_call[b],
        )
        return np.einsum("nk,nk->n", books.quantities[b], tomorrow - today[b])
