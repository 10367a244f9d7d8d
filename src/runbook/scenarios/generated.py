"""Requests generated from a firm's market data and portfolios for the built-in kinds.

Each request is the plain keyword arguments a service passes to ``Router.call`` (see
``runbook.engines.plain`` for each kind's keywords). Windows never fill a gap: a VaR or hedge
window uses the dates on which every asset it names has a return, a performance window the dates
on which every asset of the book has a close; price and correlation windows keep NaN.
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
RISK_FREE_RATES = (0.0, 0.02)  # per year; both, so the Sharpe ratio's excess return is exercised
CORRELATION_WINDOWS = (60, 120, 250)
HEDGE_EXPOSURE = 1_000_000.0  # currency of spot hedged in every generated hedge request
HEDGE_MULTIPLIER = 10.0  # currency per index point of one futures contract
HEDGE_RATE, HEDGE_DIVIDEND_YIELD = 0.02, 0.015  # per year, continuously compounded
# Option books on the futures' underlying: (strike / underlying, days to expiry, quantity, is_call).
OPTION_BOOKS = (
    ((0.95, 30, 120.0, False), (1.00, 60, -80.0, True), (1.05, 91, 60.0, True), (0.90, 182, -40.0, False)),
    ((1.00, 45, -100.0, True), (1.00, 45, -100.0, False), (1.10, 120, 50.0, True), (0.85, 270, 30.0, False)),
)


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


def performance_requests(
    history: MarketHistory, portfolios: Sequence[UserPortfolio], *, count: int, seed: int = 0,
    window: int = WINDOW,
) -> list[Request]:
    """``count`` buy-and-hold requests: a book's positions and ``window + 1`` closes of its assets,
    on the dates every one of them has a close; risk-free rates alternate."""
    rng = np.random.default_rng(seed)
    books = [_book_rows(history, history.prices, p, window + 1, "a close") for p in portfolios]
    out = []
    for i in range(count):
        portfolio, (columns, rows) = portfolios[i % len(portfolios)], books[i % len(portfolios)]
        end = int(rng.integers(window + 1, rows.size + 1))
        picked = rows[end - window - 1 : end]
        rate = RISK_FREE_RATES[(i // len(portfolios)) % 2]
        prices = {asset: history.prices[picked, column] for asset, column in columns.items()}
        kwargs = {"positions": dict(portfolio.positions), "prices": prices, "risk_free_rate": rate}
        out.append(Request(f"{portfolio.portfolio_id}@{history.dates[picked[-1]]} rf {rate:g}", kwargs,
                           portfolio.portfolio_id))  # fmt: skip
    return out


def correlation_requests(
    history: MarketHistory, portfolios: Sequence[UserPortfolio], *, count: int, seed: int = 0
) -> list[Request]:
    """``count`` requests: the daily log returns of a book's assets (two or more) over 60, 120 or 250
    days, NaN where a close is missing (gaps stay gaps)."""
    books = [p for p in portfolios if len(p.positions) > 1]
    if not books:
        raise BadInputData(f"correlation requests need a book of two or more assets; the books hold one "
                           f"each ({', '.join(p.portfolio_id for p in portfolios)})")  # fmt: skip
    rng = np.random.default_rng(seed)
    returns, dates = history.log_returns(), history.dates[1:]
    out = []
    for i in range(count):
        book = books[i % len(books)]
        days = CORRELATION_WINDOWS[(i // len(books)) % len(CORRELATION_WINDOWS)]
        if returns.shape[0] < days:
            raise BadInputData(f"market data has {returns.shape[0]} returns; a {days}-day window needs more")
        end = int(rng.integers(days, returns.shape[0] + 1))
        series = {a: returns[end - days : end, history.assets.index(a)] for a in book.positions}
        out.append(Request(f"{book.portfolio_id}@{dates[end - 1]} {days}d", {"returns": series},
                           book.portfolio_id))  # fmt: skip
    return out


def hedge_requests(
    history: MarketHistory, *, count: int, seed: int = 0, window: int = WINDOW
) -> list[Request]:
    """``count`` requests, every ordered pair of assets in turn: a spot exposure hedged with futures
    on the other asset, and an option book on that asset, on the dates both have a return."""
    assets = history.assets
    if len(assets) < 2:
        raise BadInputData(f"hedge requests need two assets (spot and futures); the market data has "
                           f"{', '.join(assets)}")  # fmt: skip
    pairs = [(s, f) for s in range(len(assets)) for f in range(len(assets)) if s != f]
    returns, dates = history.log_returns(), history.dates[1:]
    rows = {pair: np.flatnonzero(np.isfinite(returns[:, list(pair)]).all(axis=1)) for pair in pairs}
    short = [f"{assets[s]}/{assets[f]}" for (s, f), r in rows.items() if r.size < window]
    if short:
        raise BadInputData(f"hedge pair(s) {', '.join(short)}: fewer than {window} dates with a return for "
                           f"both assets")  # fmt: skip
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        spot, futures = pairs[i % len(pairs)]
        end = int(rng.integers(window, rows[spot, futures].size + 1))
        picked = rows[spot, futures][end - window : end]
        underlying = float(history.prices[picked[-1] + 1, futures])  # the close of the window's last return
        legs = OPTION_BOOKS[(i // len(pairs)) % len(OPTION_BOOKS)]
        book = {"strikes": [m * underlying for m, *_ in legs], "expiry_days": [float(leg[1]) for leg in legs],
                "quantities": [leg[2] for leg in legs], "is_call": [leg[3] for leg in legs]}  # fmt: skip
        kwargs = {"spot_returns": returns[picked, spot], "futures_returns": returns[picked, futures],
                  "exposure": HEDGE_EXPOSURE, "futures_price": underlying, "multiplier": HEDGE_MULTIPLIER,
                  "book": book, "underlying_price": underlying, "rate": HEDGE_RATE,
                  "dividend_yield": HEDGE_DIVIDEND_YIELD}  # fmt: skip
        key = f"{assets[spot]}/{assets[futures]}"
        out.append(Request(f"{key}@{dates[picked[-1]]} hedge", kwargs, key))
    return out


def _book_rows(
    history: MarketHistory, returns: np.ndarray, portfolio: UserPortfolio, window: int, what: str = "a return"
) -> tuple[dict[str, int], np.ndarray]:
    columns = {asset: history.assets.index(asset) for asset in portfolio.positions}
    rows = np.flatnonzero(np.isfinite(returns[:, list(columns.values())]).all(axis=1))
    if rows.size < window:
        raise BadInputData(
            f"portfolio {portfolio.portfolio_id!r}: {rows.size} dates with {what} for all of "
            f"{', '.join(columns)}; a {window}-day window needs more"
        )
    return columns, rows
