"""Batches: many scenarios as stacked arrays, the unit the validator hands to an engine.

Every engine processes a whole batch with array operations; a batch is checked once when built
(shapes line up, values finite where they must be), so engines do not re-check per scenario.
Monte Carlo batches carry draws produced once and shared by both engines (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runbook.engines import _checks as chk


def _rows(name: str, array: np.ndarray, rows: int) -> None:
    chk.same_length("scenarios", rows, name, array.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class PriceWindowBatch:
    """Single-series price windows (scenarios, days + 1); NaN marks a missing close."""

    prices: np.ndarray

    def __post_init__(self) -> None:
        prices = chk.as_array("prices", self.prices, ndim=2, allow_nan=True)
        chk.positive_prices("prices", prices)
        object.__setattr__(self, "prices", prices)

    def __len__(self) -> int:
        return self.prices.shape[0]


@dataclass(frozen=True, slots=True, eq=False)
class PortfolioWindowBatch:
    """Complete price windows (scenarios, days + 1, assets) and initial weights (scenarios, assets)."""

    prices: np.ndarray
    weights: np.ndarray
    risk_free_rate: float = 0.0

    def __post_init__(self) -> None:
        prices = chk.as_array("prices", self.prices, ndim=3)
        chk.positive_prices("prices", prices)
        weights = chk.as_array("weights", self.weights, ndim=2)
        _rows("weights", weights, prices.shape[0])
        chk.same_length("prices assets", prices.shape[2], "weights assets", weights.shape[1])
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "weights", weights)

    def __len__(self) -> int:
        return self.prices.shape[0]


@dataclass(frozen=True, slots=True, eq=False)
class ReturnWindowBatch:
    """Return windows (scenarios, days, assets); NaN marks a missing return."""

    returns: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "returns", chk.as_array("returns", self.returns, ndim=3, allow_nan=True))

    def __len__(self) -> int:
        return self.returns.shape[0]


@dataclass(frozen=True, slots=True, eq=False)
class VaRBatch:
    """Historical VaR scenarios: complete log-return windows (scenarios, days, assets) and positions.

    ``weights`` (scenarios, assets), ``notional`` (currency), ``confidence`` in (0, 1) and
    ``horizon_days`` (>= 1) per scenario.
    """

    returns: np.ndarray
    weights: np.ndarray
    notional: np.ndarray
    confidence: np.ndarray
    horizon_days: np.ndarray

    def __post_init__(self) -> None:
        returns = chk.as_array("returns", self.returns, ndim=3)
        chk.min_length("returns window", returns.shape[1], 2)
        rows = returns.shape[0]
        weights = chk.as_array("weights", self.weights, ndim=2)
        _rows("weights", weights, rows)
        chk.same_length("returns assets", returns.shape[2], "weights assets", weights.shape[1])
        object.__setattr__(self, "returns", returns)
        object.__setattr__(self, "weights", weights)
        _position_columns(self, rows)

    def __len__(self) -> int:
        return self.returns.shape[0]


def _position_columns(batch: object, rows: int) -> None:
    notional = chk.as_array("notional", batch.notional, ndim=1)  # type: ignore[attr-defined]
    confidence = chk.as_array("confidence", batch.confidence, ndim=1)  # type: ignore[attr-defined]
    horizon = chk.as_array("horizon_days", batch.horizon_days, ndim=1)  # type: ignore[attr-defined]
    for name, column in (("notional", notional), ("confidence", confidence), ("horizon_days", horizon)):
        _rows(name, column, rows)
    if (notional <= 0).any():
        raise chk.BadInputData("notional must be > 0 for every scenario")
    if ((confidence <= 0) | (confidence >= 1)).any():
        raise chk.BadInputData("confidence must lie in (0, 1) for every scenario")
    if (horizon < 1).any() or (horizon != np.round(horizon)).any():
        raise chk.BadInputData("horizon_days must be an integer >= 1 for every scenario")
    object.__setattr__(batch, "notional", notional)
    object.__setattr__(batch, "confidence", confidence)
    object.__setattr__(batch, "horizon_days", horizon)


@dataclass(frozen=True, slots=True, eq=False)
class VaRSimulationBatch:
    """Monte Carlo revaluation: simulated one-day log returns (draws, assets) and each draw's portfolio.

    ``portfolio_index`` (draws,) selects a row of ``weights`` (portfolios, assets) and ``notional``.
    """

    returns: np.ndarray
    portfolio_index: np.ndarray
    weights: np.ndarray
    notional: np.ndarray

    def __post_init__(self) -> None:
        returns = chk.as_array("returns", self.returns, ndim=2)
        index = np.asarray(self.portfolio_index, dtype=np.intp)
        _rows("portfolio_index", index, returns.shape[0])
        weights = chk.as_array("weights", self.weights, ndim=2)
        chk.same_length("returns assets", returns.shape[1], "weights assets", weights.shape[1])
        if index.size and (index.min() < 0 or index.max() >= weights.shape[0]):
            raise chk.BadInputData(f"portfolio_index must lie in [0, {weights.shape[0]})")
        object.__setattr__(self, "returns", returns)
        object.__setattr__(self, "portfolio_index", index)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "notional", chk.as_array("notional", self.notional, ndim=1))

    def __len__(self) -> int:
        return self.returns.shape[0]


@dataclass(frozen=True, slots=True, eq=False)
class HedgeBatch:
    """Hedge scenarios: windows (scenarios, days) of spot and futures log returns, positions, option books.

    Option arrays are (scenarios, options): strikes, expiry_days (ACT/365), quantities, is_call.
    Per-scenario columns: exposure, futures_price, multiplier, underlying_price, rate, dividend_yield.
    """

    spot_returns: np.ndarray
    futures_returns: np.ndarray
    exposure: np.ndarray
    futures_price: np.ndarray
    multiplier: np.ndarray
    underlying_price: np.ndarray
    rate: np.ndarray
    dividend_yield: np.ndarray
    strikes: np.ndarray
    expiry_days: np.ndarray
    quantities: np.ndarray
    is_call: np.ndarray

    def __post_init__(self) -> None:
        spot = chk.as_array("spot_returns", self.spot_returns, ndim=2)
        futures = chk.as_array("futures_returns", self.futures_returns, ndim=2)
        if spot.shape != futures.shape:
            raise chk.BadInputData(f"mismatched shapes: spot {spot.shape} vs futures {futures.shape}")
        chk.min_length("returns window", spot.shape[1], 3)
        object.__setattr__(self, "spot_returns", spot)
        object.__setattr__(self, "futures_returns", futures)
        for name in ("exposure", "futures_price", "multiplier", "underlying_price"):
            column = chk.as_array(name, getattr(self, name), ndim=1)
            _rows(name, column, spot.shape[0])
            if (column <= 0).any():
                raise chk.BadInputData(f"{name} must be > 0 for every scenario")
            object.__setattr__(self, name, column)
        for name in ("rate", "dividend_yield"):
            column = chk.as_array(name, getattr(self, name), ndim=1)
            _rows(name, column, spot.shape[0])
            object.__setattr__(self, name, column)
        self._options(spot.shape[0])

    def _options(self, rows: int) -> None:
        strikes = chk.as_array("strikes", self.strikes, ndim=2)
        _rows("strikes", strikes, rows)
        chk.positive_prices("strikes", strikes)
        for name in ("expiry_days", "quantities"):
            column = chk.as_array(name, getattr(self, name), ndim=2)
            if column.shape != strikes.shape:
                raise chk.BadInputData(f"mismatched shapes: {name} {column.shape} vs strikes {strikes.shape}")
            object.__setattr__(self, name, column)
        is_call = np.asarray(self.is_call, dtype=bool)
        if is_call.shape != strikes.shape:
            raise chk.BadInputData(f"mismatched shapes: is_call {is_call.shape} vs strikes {strikes.shape}")
        object.__setattr__(self, "strikes", strikes)
        object.__setattr__(self, "is_call", is_call)

    def __len__(self) -> int:
        return self.spot_returns.shape[0]


@dataclass(frozen=True, slots=True, eq=False)
class HedgeSimulationBatch:
    """Monte Carlo hedged P&L: books calibrated on ``books`` (one scenario per book) and simulated
    one-day log returns of spot, futures and the options' underlying per draw."""

    books: HedgeBatch
    book_index: np.ndarray
    spot_returns: np.ndarray
    futures_returns: np.ndarray
    underlying_returns: np.ndarray

    def __post_init__(self) -> None:
        index = np.asarray(self.book_index, dtype=np.intp)
        for name in ("spot_returns", "futures_returns", "underlying_returns"):
            column = chk.as_array(name, getattr(self, name), ndim=1)
            _rows(name, column, index.shape[0])
            object.__setattr__(self, name, column)
        if index.size and (index.min() < 0 or index.max() >= len(self.books)):
            raise chk.BadInputData(f"book_index must lie in [0, {len(self.books)})")
        object.__setattr__(self, "book_index", index)

    def __len__(self) -> int:
        return self.book_index.shape[0]
