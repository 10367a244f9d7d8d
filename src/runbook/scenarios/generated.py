"""Requests generated from a firm's market data and portfolios for the built-in kinds.

Each request is the plain keyword arguments a service passes to ``Router.call`` (see
``runbook.engines.plain`` for each kind's keywords). Windows never fill a gap: a VaR window uses
the dates on which every asset of the portfolio has a return; a price window keeps NaN closes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runbook.errors import BadInputData
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.requests_file import Request
from runbook.scenarios.user_data import UserPortfolio

WINDOW = 250
HORIZONS = (1, 10)  # both, so horizon scaling is exercised by every validation
CONFIDENCES = (0.99, 0.975)


def var_requests(
    history: MarketHistory, portfolios: Sequence[UserPortfolio], *, count: int, seed: int = 0,
    window: int = WINDOW,
) -> list[Request]:
    """``count`` VaR requests: portfolios in turn, windows ending on seeded dates, mixed horizons."""
    rng = np.random.default_rng(seed)
    returns, dates = history.log_returns(), history.dates[1:]
    books = [_book_rows(history, returns, p, window) for p in portfolios]
    out = []
    for i in range(count):
        portfolio, (columns, rows) = portfolios[i % len(portfolios)], books[i % len(portfolios)]
        end = int(rng.integers(window, rows.size + 1))
        picked = rows[end - window : end]
        horizon, confidence = HORIZONS[(i // len(portfolios)) % 2], CONFIDENCES[int(rng.integers(2))]
        series = {asset: returns[picked, column] for asset, column in columns.items()}
        kwargs = {"positions": dict(portfolio.positions), "returns": series, "confidence": confidence,
                  "horizon_days": horizon}  # fmt: skip
        request_id = f"{portfolio.portfolio_id}@{dates[picked[-1]]} {horizon}d {confidence:g}"
        out.append(Request(request_id, kwargs, portfolio.portfolio_id))
    return out


def backtest_requests(
    history: MarketHistory, portfolio: UserPortfolio, *, confidence: float = 0.99, window: int = WINDOW
) -> tuple[list[Request], np.ndarray, np.ndarray]:
    """Rolling 1-day VaR requests, the next day's realised loss (currency) and its date."""
    returns, dates = history.log_returns(), history.dates[1:]
    columns, rows = _book_rows(history, returns, portfolio, window + 1)
    positions = np.array([portfolio.positions[a] for a in columns])
    requests, realised = [], []
    for end in range(window, rows.size):
        picked = rows[end - window : end]
        series = {asset: returns[picked, column] for asset, column in columns.items()}
        kwargs = {"positions": dict(portfolio.positions), "returns": series, "confidence": confidence,
                  "horizon_days": 1}  # fmt: skip
        request_id = f"{portfolio.portfolio_id}@{dates[rows[end]]} backtest"
        requests.append(Request(request_id, kwargs, portfolio.portfolio_id))
        realised.append(-float(np.expm1(returns[rows[end], list(columns.values())]) @ positions))
    return requests, np.array(realised), dates[rows[window:]]


def market_data_requests(
    history: MarketHistory, *, count: int, seed: int = 0, window: int = WINDOW
) -> list[Request]:
    """``count`` price-window requests (``prices``: window + 1 closes, NaN kept), assets in turn."""
    if len(history) <= window:
        raise BadInputData(f"market data has {len(history)} rows; price windows need more than {window}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        column = i % len(history.assets)
        start = int(rng.integers(len(history) - window))
        prices = history.prices[start : start + window + 1, column]
        asset = history.assets[column]
        out.append(Request(f"{asset}@{history.dates[start + window]}", {"prices": prices.copy()}, asset))
    return out


def _book_rows(
    history: MarketHistory, returns: np.ndarray, portfolio: UserPortfolio, window: int
) -> tuple[dict[str, int], np.ndarray]:
    columns = {asset: history.assets.index(asset) for asset in portfolio.positions}
    rows = np.flatnonzero(np.isfinite(returns[:, list(columns.values())]).all(axis=1))
    if rows.size < window:
        raise BadInputData(
            f"portfolio {portfolio.portfolio_id!r}: {rows.size} dates with a return for all of "
            f"{', '.join(columns)}; a {window}-day window needs more"
        )
    return columns, rows
