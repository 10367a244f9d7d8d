"""Traffic replay: single requests drawn from the bundled real history, as production would send them.

Each request is a frozen request object of the component (``runbook.engines.requests``); its
routing key is ``<portfolio or book id>#<account>`` (256 accounts per portfolio), so canary
fractions split keys finely and each key stays on one route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np

from runbook.domain.catalog import entry_of
from runbook.domain.components import Component, parse_component
from runbook.engines.requests import (
    CorrelationRequest,
    HedgeRequest,
    MarketDataRequest,
    OptionBook,
    PerformanceRequest,
    VaRMethod,
    VaRRequest,
)
from runbook.errors import BadParameter
from runbook.scenarios.historical import CORRELATION_WINDOWS, DEFAULT_WINDOW
from runbook.scenarios.loader import MarketHistory, load_market_history
from runbook.scenarios.portfolios import HEDGE_BOOKS, PORTFOLIOS, option_arrays

ACCOUNTS_PER_PORTFOLIO = 256


@lru_cache(maxsize=1)
def _history() -> tuple[MarketHistory, MarketHistory, np.ndarray, np.ndarray]:
    history = load_market_history()
    complete = history.complete()
    return history, complete, complete.log_returns(), history.log_returns()


def replay_requests(component: Component | str, *, count: int, seed: int = 0) -> Iterator[tuple[str, object]]:
    """``count`` (routing_key, request) pairs for ``component`` from real market history (seeded)."""
    component = parse_component(str(component))
    if count < 0:
        raise BadParameter(f"replay count {count} must be >= 0")
    if component not in _BUILDERS or not entry_of(component).bundled:
        yield from _catalog(component, count=count, seed=seed)
        return
    rng = np.random.default_rng(seed)
    build = _BUILDERS[Component(str(component))]
    for _ in range(count):
        label, request = build(rng)
        yield f"{label}#{int(rng.integers(ACCOUNTS_PER_PORTFOLIO)):03d}", request


def _catalog(component: str, *, count: int, seed: int) -> Iterator[tuple[str, object]]:
    """A catalog component's own requests (its requests file, or generated), in turn."""
    from runbook.scenarios.catalog_requests import Sources, requests_for

    requests = requests_for(entry_of(component), Sources(), count=count, seed=seed) if count else []
    for index in range(count):
        request = requests[index % len(requests)]
        yield request.routing_key or f"{component}#{index % ACCOUNTS_PER_PORTFOLIO:03d}", request


def _var(rng: np.random.Generator) -> tuple[str, object]:
    _, _, returns, _ = _history()
    portfolio = PORTFOLIOS[int(rng.integers(len(PORTFOLIOS)))]
    start = int(rng.integers(returns.shape[0] - DEFAULT_WINDOW + 1))
    method = VaRMethod.PARAMETRIC if rng.random() < 0.2 else VaRMethod.HISTORICAL
    request = VaRRequest(
        returns[start : start + DEFAULT_WINDOW],
        np.array(portfolio.weights),
        portfolio.notional,
        portfolio.confidence,
        portfolio.horizon_days,
        method,
    )
    return portfolio.portfolio_id, request


def _hedge(rng: np.random.Generator) -> tuple[str, object]:
    _, complete, returns, _ = _history()
    book = HEDGE_BOOKS[int(rng.integers(len(HEDGE_BOOKS)))]
    start = int(rng.integers(returns.shape[0] - DEFAULT_WINDOW + 1))
    window = returns[start : start + DEFAULT_WINDOW]
    underlying = float(complete.prices[start + DEFAULT_WINDOW, book.futures])
    strikes, expiry, quantities, is_call = option_arrays(book, underlying)
    request = HedgeRequest(
        window[:, book.spot],
        window[:, book.futures],
        book.exposure,
        underlying,
        book.multiplier,
        OptionBook(strikes, expiry, quantities, is_call),
        underlying,
        book.rate,
        book.dividend_yield,
    )
    return book.book_id, request


def _market_data(rng: np.random.Generator) -> tuple[str, object]:
    history, *_ = _history()
    asset = int(rng.integers(len(history.assets)))
    start = int(rng.integers(len(history) - DEFAULT_WINDOW))
    return history.assets[asset], MarketDataRequest(history.prices[start : start + DEFAULT_WINDOW + 1, asset])


def _performance(rng: np.random.Generator) -> tuple[str, object]:
    _, complete, _, _ = _history()
    long_only = [p for p in PORTFOLIOS if p.long_only]
    portfolio = long_only[int(rng.integers(len(long_only)))]
    start = int(rng.integers(len(complete) - DEFAULT_WINDOW))
    prices = complete.prices[start : start + DEFAULT_WINDOW + 1]
    return portfolio.portfolio_id, PerformanceRequest(prices, np.array(portfolio.weights))


def _correlation(rng: np.random.Generator) -> tuple[str, object]:
    *_, gapped = _history()
    days = CORRELATION_WINDOWS[int(rng.integers(len(CORRELATION_WINDOWS)))]
    start = int(rng.integers(gapped.shape[0] - days + 1))
    return f"corr-{days}d", CorrelationRequest(gapped[start : start + days])


_BUILDERS: dict[str, Callable[[np.random.Generator], tuple[str, object]]] = {
    Component.VAR_ENGINE: _var,
    Component.HEDGE_CALCULATOR: _hedge,
    Component.MARKET_DATA_PROVIDER: _market_data,
    Component.PERFORMANCE_ANALYZER: _performance,
    Component.CORRELATION_ANALYZER: _correlation,
}
