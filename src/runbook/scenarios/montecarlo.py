"""Monte Carlo scenarios: correlated (Cholesky), seeded, chunked, common random numbers.

Draws come from ``runbook.engines._random`` (chunk j of seed s is always the same numbers), and
both engines revalue the very same chunk (common random numbers); a 1,000,000-draw run holds one
chunk of draws at a time.
Calibration: sample covariance (ddof=1) of the last ``days`` complete daily log returns, zero mean.
Window-based components get simulated windows of ``MC_WINDOW_DAYS`` days; WTI closes go missing
with probability ``gap_rate`` per day, as in the real data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from runbook.engines._random import DEFAULT_CHUNK, cholesky, standard_normals
from runbook.engines.batches import (
    HedgeBatch,
    HedgeSimulationBatch,
    PortfolioWindowBatch,
    PriceWindowBatch,
    ReturnWindowBatch,
    VaRSimulationBatch,
)
from runbook.engines.conventions import MC_WINDOW_DAYS
from runbook.errors import BadParameter
from runbook.scenarios.historical import DEFAULT_WINDOW, hedge_batch_at
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.portfolios import HEDGE_BOOKS, PORTFOLIOS, HedgeBook, Portfolio, weights_matrix
from runbook.scenarios.sets import MONTE_CARLO, ScenarioSet, constant

CALIBRATION_DAYS = 500
GAP_RATE = 0.02
_NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True, slots=True, eq=False)
class Calibration:
    """Daily log-return covariance (assets, assets) over ``days`` and the last closes."""

    covariance: np.ndarray
    last_prices: np.ndarray
    days: int


def calibrate(history: MarketHistory, *, days: int = CALIBRATION_DAYS) -> Calibration:
    """Covariance of the last ``days`` complete log returns."""
    complete = history.complete()
    returns = complete.log_returns()[-days:]
    if returns.shape[0] < days:
        raise BadParameter(f"calibration needs {days} days of returns, history has {returns.shape[0]}")
    return Calibration(np.cov(returns, rowvar=False, ddof=1), complete.prices[-1], days)


class MonteCarloGenerator:
    """Chunks of correlated one-day log returns or of simulated return windows."""

    def __init__(self, covariance: np.ndarray, *, seed: int = 0, chunk_size: int = DEFAULT_CHUNK) -> None:
        if chunk_size < 1:
            raise BadParameter(f"chunk_size {chunk_size} must be >= 1")
        self.factor = cholesky(covariance)
        self.seed, self.chunk_size = int(seed), int(chunk_size)

    def _spans(self, count: int) -> Iterator[tuple[int, int, int]]:
        if count < 0:
            raise BadParameter(f"Monte Carlo scenario count {count} must be >= 0")
        for chunk, start in enumerate(range(0, count, self.chunk_size)):
            yield chunk, start, min(self.chunk_size, count - start)

    def draws(self, count: int) -> Iterator[tuple[int, np.ndarray]]:
        """(start, (rows, assets) one-day log returns) per chunk."""
        for chunk, start, rows in self._spans(count):
            yield (
                start,
                standard_normals(rows, self.factor.shape[0], seed=self.seed, chunk=chunk) @ self.factor.T,
            )

    def windows(self, count: int, days: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(start, (rows, days, assets) log returns, (rows, days) uniform gap draws) per chunk."""
        assets = self.factor.shape[0]
        for chunk, start, rows in self._spans(count):
            normals = standard_normals(rows * days, assets, seed=self.seed, chunk=chunk) @ self.factor.T
            uniform = np.random.Generator(np.random.PCG64([self.seed, chunk, 1])).random((rows, days))
            yield start, normals.reshape(rows, days, assets), uniform


def _mc_set(
    start: int,
    ids: tuple[str, ...],
    index: np.ndarray,
    assets: int,
    window: int,
    weight_sum: np.ndarray,
    notional: np.ndarray,
    batch: object,
) -> ScenarioSet:
    rows = len(index)
    return ScenarioSet(
        MONTE_CARLO,
        ids,
        index,
        np.full(rows, _NAT),
        constant(assets, rows, np.int64),
        constant(window, rows, np.int64),
        weight_sum,
        notional,
        batch,
        start,
    )


def var_mc(
    history: MarketHistory,
    *,
    count: int,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    portfolios: tuple[Portfolio, ...] = PORTFOLIOS,
) -> Iterator[ScenarioSet]:
    """VaR revaluation chunks: draw i belongs to portfolio i mod len(portfolios)."""
    cal = calibrate(history)
    weights, notional = weights_matrix(portfolios), np.array([p.notional for p in portfolios])
    ids = tuple(p.portfolio_id for p in portfolios)
    for start, draws in MonteCarloGenerator(cal.covariance, seed=seed, chunk_size=chunk_size).draws(count):
        index = (start + np.arange(draws.shape[0])) % len(portfolios)
        batch = VaRSimulationBatch(draws, index, weights, notional)
        yield _mc_set(
            start, ids, index, weights.shape[1], cal.days, weights.sum(axis=1)[index], notional[index], batch
        )


def hedge_books_now(
    history: MarketHistory, books: tuple[HedgeBook, ...] = HEDGE_BOOKS, window: int = DEFAULT_WINDOW
) -> HedgeBatch:
    """One HedgeBatch row per book, calibrated on the last ``window`` days of history."""
    complete = history.complete()
    returns = complete.log_returns()[-window:]
    b = np.arange(len(books))
    windows = np.broadcast_to(returns, (len(books), *returns.shape))
    return hedge_batch_at(complete, windows, np.full(len(books), len(complete) - 1), b, books)


def hedge_mc(
    history: MarketHistory,
    *,
    count: int,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    books: tuple[HedgeBook, ...] = HEDGE_BOOKS,
) -> Iterator[ScenarioSet]:
    """Hedged P&L chunks: draw i belongs to book i mod len(books)."""
    cal = calibrate(history)
    calibrated = hedge_books_now(history, books)
    spot = np.array([x.spot for x in books])
    futures = np.array([x.futures for x in books])
    exposure = np.array([x.exposure for x in books])
    ids = tuple(x.book_id for x in books)
    for start, draws in MonteCarloGenerator(cal.covariance, seed=seed, chunk_size=chunk_size).draws(count):
        rows = np.arange(draws.shape[0])
        index = (start + rows) % len(books)
        batch = HedgeSimulationBatch(
            calibrated,
            index,
            draws[rows, spot[index]],
            draws[rows, futures[index]],
            draws[rows, futures[index]],
        )
        yield _mc_set(start, ids, index, 2, cal.days, constant(1.0, len(rows)), exposure[index], batch)


def window_mc(
    component: str,
    history: MarketHistory,
    *,
    count: int,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    days: int = MC_WINDOW_DAYS,
    gap_rate: float = GAP_RATE,
) -> Iterator[ScenarioSet]:
    """Simulated windows for market_data_provider, performance_analyzer or correlation_analyzer."""
    cal = calibrate(history)
    generator = MonteCarloGenerator(cal.covariance, seed=seed, chunk_size=max(1, chunk_size // days))
    long_only = tuple(p for p in PORTFOLIOS if p.long_only)
    assets = len(history.assets)
    for start, returns, uniform in generator.windows(count, days):
        rows = returns.shape[0]
        gaps = uniform < gap_rate
        paths = np.concatenate([np.zeros((rows, 1, assets)), np.cumsum(returns, axis=1)], axis=1)
        prices = cal.last_prices * np.exp(paths)
        if component == "market_data_provider":
            index = (start + np.arange(rows)) % assets
            series = prices[np.arange(rows), :, index]
            series[:, 1:][gaps & (index == assets - 1)[:, None]] = np.nan
            yield _mc_set(
                start,
                history.assets,
                index,
                1,
                days,
                constant(1.0, rows),
                constant(1.0, rows),
                PriceWindowBatch(series),
            )
        elif component == "performance_analyzer":
            index = (start + np.arange(rows)) % len(long_only)
            weights = weights_matrix(long_only)[index]
            notional = np.array([p.notional for p in long_only])[index]
            yield _mc_set(
                start,
                tuple(p.portfolio_id for p in long_only),
                index,
                assets,
                days,
                weights.sum(axis=1),
                notional,
                PortfolioWindowBatch(prices, weights),
            )
        else:
            returns[:, :, -1][gaps] = np.nan
            index = np.zeros(rows, dtype=np.intp)
            yield _mc_set(
                start,
                (f"corr-mc-{days}d",),
                index,
                assets,
                days,
                constant(1.0, rows),
                constant(1.0, rows),
                ReturnWindowBatch(returns),
            )
