"""Per-component single requests (what production routes) and results (what routers compare).

Requests hold read-only float64 arrays and are checked on construction, so a bad request fails
with ``BadInputData`` before any engine runs. Results are flat frozen dataclasses of floats, which
the runtime router's generic comparator can diff field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from runbook.engines import _checks as chk


class VaRMethod(StrEnum):
    """How a VaR request is computed."""

    HISTORICAL = "historical"
    PARAMETRIC = "parametric"
    MONTE_CARLO = "monte_carlo"


@dataclass(frozen=True, slots=True, eq=False)
class MarketDataRequest:
    """One price series window (closes, oldest first; NaN marks a missing close)."""

    prices: np.ndarray

    def __post_init__(self) -> None:
        prices = chk.as_array("prices", self.prices, ndim=1, allow_nan=True)
        chk.positive_prices("prices", prices)
        chk.min_length("prices (non-missing)", int(np.isfinite(prices).sum()), 3)
        object.__setattr__(self, "prices", prices)


@dataclass(frozen=True, slots=True)
class MarketDataResult:
    """Daily log-return summary of one window: mean and volatility per day, total, count."""

    mean_return: float
    volatility: float
    total_return: float
    observations: float


@dataclass(frozen=True, slots=True, eq=False)
class PerformanceRequest:
    """Closes of a buy-and-hold portfolio: ``prices`` (days, assets) and initial value ``weights``."""

    prices: np.ndarray
    weights: np.ndarray
    risk_free_rate: float = 0.0

    def __post_init__(self) -> None:
        prices = chk.as_array("prices", self.prices, ndim=2)
        chk.positive_prices("prices", prices)
        chk.min_length("prices", prices.shape[0], 3)
        weights = chk.as_array("weights", self.weights, ndim=1)
        chk.same_length("prices columns", prices.shape[1], "weights", weights.shape[0])
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "weights", weights)


@dataclass(frozen=True, slots=True)
class PerformanceResult:
    """Annualised return and volatility (fractions), Sharpe ratio, max drawdown (fraction, >= 0)."""

    annual_return: float
    annual_volatility: float
    sharpe: float
    max_drawdown: float


@dataclass(frozen=True, slots=True, eq=False)
class CorrelationRequest:
    """Daily returns (days, assets); NaN marks a missing return (dropped listwise)."""

    returns: np.ndarray

    def __post_init__(self) -> None:
        returns = chk.as_array("returns", self.returns, ndim=2, allow_nan=True)
        if returns.shape[1] < 2:
            raise chk.BadInputData(f"returns need at least 2 assets, got shape {returns.shape}")
        complete = int(np.isfinite(returns).all(axis=1).sum())
        chk.min_length("returns (complete dates)", complete, 3)
        object.__setattr__(self, "returns", returns)


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """Upper triangle of the correlation matrix, row by row ((0,1), (0,2), ..., (1,2), ...)."""

    upper_triangle: tuple[float, ...]


@dataclass(frozen=True, slots=True, eq=False)
class VaRRequest:
    """A portfolio VaR request over a window of daily log returns (days, assets).

    ``notional`` in currency; ``confidence`` in (0, 1); ``horizon_days`` >= 1 (square-root scaling);
    ``mc_paths`` and ``seed`` are used by the Monte Carlo method only.
    """

    returns: np.ndarray
    weights: np.ndarray
    notional: float
    confidence: float = 0.99
    horizon_days: int = 1
    method: VaRMethod = VaRMethod.HISTORICAL
    mc_paths: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        returns = chk.as_array("returns", self.returns, ndim=2)
        chk.min_length("returns", returns.shape[0], 2)
        weights = chk.as_array("weights", self.weights, ndim=1)
        chk.same_length("returns columns", returns.shape[1], "weights", weights.shape[0])
        object.__setattr__(self, "returns", returns)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "notional", chk.positive("notional", self.notional))
        object.__setattr__(self, "confidence", chk.probability("confidence", self.confidence))
        object.__setattr__(self, "horizon_days", chk.horizon(self.horizon_days))
        try:
            object.__setattr__(self, "method", VaRMethod(self.method))
        except ValueError:
            allowed = ", ".join(m.value for m in VaRMethod)
            raise chk.BadInputData(f"unknown VaR method {self.method!r}; allowed: {allowed}") from None
        if int(self.mc_paths) < 100:
            raise chk.BadInputData(f"mc_paths {self.mc_paths!r} must be >= 100")


@dataclass(frozen=True, slots=True)
class VaRResult:
    """Value at risk and expected shortfall, positive currency amounts over the horizon."""

    var: float
    es: float


@dataclass(frozen=True, slots=True, eq=False)
class OptionBook:
    """European options on one underlying: strikes, days to expiry (ACT/365), signed quantities."""

    strikes: np.ndarray
    expiry_days: np.ndarray
    quantities: np.ndarray
    is_call: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        strikes = chk.as_array("strikes", self.strikes, ndim=1)
        chk.positive_prices("strikes", strikes)
        expiry = chk.as_array("expiry_days", self.expiry_days, ndim=1)
        if (expiry <= 1).any():
            raise chk.BadInputData("expiry_days must all be > 1 day")
        quantities = chk.as_array("quantities", self.quantities, ndim=1)
        is_call = np.array(self.is_call, dtype=bool) if len(self.is_call) else np.ones(len(strikes), bool)
        for name, other in (("expiry_days", expiry), ("quantities", quantities), ("is_call", is_call)):
            chk.same_length("strikes", len(strikes), name, len(other))
        is_call.setflags(write=False)
        for name, value in (("strikes", strikes), ("expiry_days", expiry), ("quantities", quantities)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "is_call", is_call)


@dataclass(frozen=True, slots=True, eq=False)
class HedgeRequest:
    """A spot exposure hedged with futures, plus an option book on the futures' underlying.

    ``exposure`` (currency) is hedged with futures of ``futures_price * multiplier`` currency per
    contract; the window returns are daily log returns of spot and futures. Options are priced at
    ``underlying_price`` with the window's realised futures volatility, ``rate`` and
    ``dividend_yield`` continuously compounded per year.
    """

    spot_returns: np.ndarray
    futures_returns: np.ndarray
    exposure: float
    futures_price: float
    multiplier: float
    book: OptionBook
    underlying_price: float
    rate: float = 0.02
    dividend_yield: float = 0.015

    def __post_init__(self) -> None:
        spot = chk.as_array("spot_returns", self.spot_returns, ndim=1)
        futures = chk.as_array("futures_returns", self.futures_returns, ndim=1)
        chk.min_length("spot_returns", len(spot), 3)
        chk.same_length("spot_returns", len(spot), "futures_returns", len(futures))
        object.__setattr__(self, "spot_returns", spot)
        object.__setattr__(self, "futures_returns", futures)
        object.__setattr__(self, "exposure", chk.positive("exposure", self.exposure))
        object.__setattr__(self, "futures_price", chk.positive("futures_price", self.futures_price))
        object.__setattr__(self, "multiplier", chk.positive("multiplier", self.multiplier))
        object.__setattr__(self, "underlying_price", chk.positive("underlying_price", self.underlying_price))

    @property
    def contract_size(self) -> float:
        """Currency value of one futures contract."""
        return self.futures_price * self.multiplier


@dataclass(frozen=True, slots=True)
class HedgeResult:
    """Futures hedge (ratio, contracts, in-sample effectiveness) and option-book Greeks and hedges.

    Greeks are per unit move of the underlying (delta, gamma) or per 1.00 of volatility (vega);
    ``*_units`` are underlying units to trade; ``*_options`` are hedge options to trade (91-day ATM
    call for gamma, 365-day ATM call for vega).
    """

    hedge_ratio: float
    contracts: float
    effectiveness: float
    book_value: float
    book_delta: float
    book_gamma: float
    book_vega: float
    delta_hedge_units: float
    gamma_hedge_options: float
    gamma_delta_units: float
    vega_hedge_options: float


HEDGE_METRICS = tuple(HedgeResult.__dataclass_fields__)
