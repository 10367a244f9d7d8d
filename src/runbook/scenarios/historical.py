"""Historical scenario sets: as-of dates x portfolios (or books, assets, windows) from real history.

Each builder samples ``count`` distinct (as-of date, portfolio) cells from the full grid without
replacement (seeded), sorted by date, and cuts the estimation window ending on each as-of date.
"""

from __future__ import annotations

import numpy as np

from runbook.engines.batches import (
    HedgeBatch,
    PortfolioWindowBatch,
    PriceWindowBatch,
    ReturnWindowBatch,
    VaRBatch,
)
from runbook.errors import BadParameter
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.portfolios import (
    HEDGE_BOOKS,
    PORTFOLIOS,
    HedgeBook,
    Portfolio,
    option_arrays,
    weights_matrix,
)
from runbook.scenarios.sets import HISTORICAL, ScenarioSet, constant

DEFAULT_WINDOW = 250
LONG_ONLY = tuple(p for p in PORTFOLIOS if p.long_only)
CORRELATION_WINDOWS = (60, 120, 250)


def _grid(windows: int, portfolios: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(window index, portfolio index) of ``count`` sampled cells, sorted by date then portfolio."""
    cells = windows * portfolios
    if count < 1 or count > cells:
        raise BadParameter(f"historical scenario count {count} must lie in [1, {cells}] for this data")
    pick = np.sort(np.random.default_rng(seed).choice(cells, size=count, replace=False))
    return pick // portfolios, pick % portfolios


class _Windows:
    """Windows of ``window`` consecutive rows of ``values``, gathered by index (contiguous copies)."""

    def __init__(self, values: np.ndarray, window: int) -> None:
        if values.shape[0] < window:
            raise BadParameter(f"window of {window} days is longer than the {values.shape[0]} rows available")
        self.values, self.window = values, window
        self.shape = (values.shape[0] - window + 1, window, *values.shape[1:])

    def __getitem__(self, starts: np.ndarray) -> np.ndarray:
        return self.values[np.asarray(starts)[:, None] + np.arange(self.window)[None, :]]


def _windows(values: np.ndarray, window: int) -> _Windows:
    """Windows (n - window + 1, window, columns) of consecutive rows."""
    return _Windows(values, window)


def var_scenarios(
    history: MarketHistory,
    *,
    count: int,
    seed: int = 0,
    window: int = DEFAULT_WINDOW,
    portfolios: tuple[Portfolio, ...] = PORTFOLIOS,
) -> ScenarioSet:
    """VaR scenarios: ``window`` days of complete log returns up to each as-of date x portfolio."""
    complete = history.complete()
    views = _windows(complete.log_returns(), window)
    t, p = _grid(views.shape[0], len(portfolios), count, seed)
    weights = weights_matrix(portfolios)
    batch = VaRBatch(
        returns=views[t],
        weights=weights[p],
        notional=np.array([x.notional for x in portfolios])[p],
        confidence=np.array([x.confidence for x in portfolios])[p],
        horizon_days=np.array([x.horizon_days for x in portfolios], dtype=np.float64)[p],
    )
    return ScenarioSet(
        HISTORICAL,
        tuple(x.portfolio_id for x in portfolios),
        p,
        complete.dates[t + window],
        constant(weights.shape[1], count, np.int64),
        constant(window, count, np.int64),
        weights.sum(axis=1)[p],
        batch.notional,
        batch,
    )


def hedge_scenarios(
    history: MarketHistory,
    *,
    count: int,
    seed: int = 0,
    window: int = DEFAULT_WINDOW,
    books: tuple[HedgeBook, ...] = HEDGE_BOOKS,
) -> ScenarioSet:
    """Hedge scenarios: spot and futures return windows up to each as-of date x hedge book."""
    complete = history.complete()
    views = _windows(complete.log_returns(), window)
    t, b = _grid(views.shape[0], len(books), count, seed)
    batch = hedge_batch_at(complete, views[t], t + window, b, books)
    return ScenarioSet(
        HISTORICAL,
        tuple(x.book_id for x in books),
        b,
        complete.dates[t + window],
        constant(2, count, np.int64),
        constant(window, count, np.int64),
        constant(1.0, count),
        batch.exposure,
        batch,
    )


def hedge_batch_at(
    complete: MarketHistory,
    windows: np.ndarray,
    price_rows: np.ndarray,
    b: np.ndarray,
    books: tuple[HedgeBook, ...],
) -> HedgeBatch:
    """Books ``b`` over return ``windows`` (scenarios, days, assets), priced at ``price_rows``."""
    spot_col = np.array([x.spot for x in books])[b]
    futures_col = np.array([x.futures for x in books])[b]
    rows = np.arange(len(b))
    underlying = complete.prices[price_rows, futures_col]
    legs = [np.stack(parts) for parts in zip(*(option_arrays(x, 1.0) for x in books), strict=True)]
    return HedgeBatch(
        spot_returns=windows[rows, :, spot_col],
        futures_returns=windows[rows, :, futures_col],
        exposure=np.array([x.exposure for x in books])[b],
        futures_price=underlying,
        multiplier=np.array([x.multiplier for x in books])[b],
        underlying_price=underlying,
        rate=np.array([x.rate for x in books])[b],
        dividend_yield=np.array([x.dividend_yield for x in books])[b],
        strikes=legs[0][b] * underlying[:, None],
        expiry_days=legs[1][b],
        quantities=legs[2][b],
        is_call=legs[3][b],
    )


def market_data_scenarios(
    history: MarketHistory, *, count: int, seed: int = 0, window: int = DEFAULT_WINDOW
) -> ScenarioSet:
    """Market data scenarios: ``window + 1`` closes (gaps kept as NaN) up to each as-of date x asset."""
    views = _windows(history.prices, window + 1)
    t, a = _grid(views.shape[0], len(history.assets), count, seed)
    batch = PriceWindowBatch(views[t][np.arange(count), :, a])
    return ScenarioSet(
        HISTORICAL,
        history.assets,
        a,
        history.dates[t + window],
        constant(1, count, np.int64),
        constant(window, count, np.int64),
        constant(1.0, count),
        constant(1.0, count),
        batch,
    )


def performance_scenarios(
    history: MarketHistory,
    *,
    count: int,
    seed: int = 0,
    window: int = DEFAULT_WINDOW,
    portfolios: tuple[Portfolio, ...] | None = None,
) -> ScenarioSet:
    """Performance scenarios: ``window + 1`` complete closes up to each as-of date x long-only portfolio."""
    portfolios = portfolios or LONG_ONLY
    complete = history.complete()
    views = _windows(complete.prices, window + 1)
    t, p = _grid(views.shape[0], len(portfolios), count, seed)
    weights = weights_matrix(portfolios)
    batch = PortfolioWindowBatch(views[t], weights[p])
    return ScenarioSet(
        HISTORICAL,
        tuple(x.portfolio_id for x in portfolios),
        p,
        complete.dates[t + window],
        constant(weights.shape[1], count, np.int64),
        constant(window, count, np.int64),
        weights.sum(axis=1)[p],
        np.array([x.notional for x in portfolios])[p],
        batch,
    )


def correlation_scenarios(
    history: MarketHistory, *, count: int, seed: int = 0, windows: tuple[int, ...] = CORRELATION_WINDOWS
) -> ScenarioSet:
    """Correlation scenarios: return windows (gaps as NaN) of each length up to each as-of date.

    Every batch row has the longest window; shorter windows are NaN-padded at the start, which
    listwise deletion drops.
    """
    longest = max(windows)
    views = _windows(history.log_returns(), longest)
    t, w = _grid(views.shape[0], len(windows), count, seed)
    returns = views[t].copy()
    lengths = np.array(windows)[w]
    returns[np.arange(longest)[None, :] < (longest - lengths)[:, None]] = np.nan
    assets = len(history.assets)
    return ScenarioSet(
        HISTORICAL,
        tuple(f"corr-{n}d" for n in windows),
        w,
        history.dates[t + longest],
        constant(assets, count, np.int64),
        lengths.astype(np.int64),
        constant(1.0, count),
        constant(1.0, count),
        ReturnWindowBatch(returns),
    )
