"""Plain keyword-argument entry points of the shipped engines (what the bundled catalog names).

The built-in kinds' requests are plain keyword arguments (README, "Migrate your own engine"):

- ``var``: ``positions`` {asset: currency value, short negative}, ``returns`` {asset: daily log
  returns, oldest first, equal lengths}, ``confidence`` in (0, 1), ``horizon_days`` >= 1;
  optional ``method`` ("historical" or "parametric"). Returns {"var", "es"}: positive currency.
- ``market_data``: ``prices`` (closes, oldest first, NaN for a missing close). Returns the
  MarketDataResult fields.
- ``performance``: ``positions`` {asset: currency, long}, ``prices`` {asset: closes, oldest first,
  equal lengths}, ``risk_free_rate`` per year. Returns {"annual_return", "annual_volatility",
  "sharpe", "max_drawdown"}.
- ``correlation``: ``returns`` {asset: daily log returns, oldest first, NaN where missing}, two
  assets or more. Returns {"upper_triangle": [...]} (row by row).
- ``hedge``: ``spot_returns``, ``futures_returns`` (daily log returns), ``exposure`` (currency),
  ``futures_price``, ``multiplier``, ``book`` {"strikes", "expiry_days", "quantities", "is_call"}
  (options on the futures' underlying), ``underlying_price``, ``rate``, ``dividend_yield``.
  Returns the HedgeResult fields.

The shipped request dataclasses' own fields (``prices`` as a matrix with ``weights``, ``returns``
as a matrix, ``book`` an OptionBook) are taken as well.

``plain_callable(component, engine)`` wraps any engine object of the shipped protocols the same
way, so a faulted or user-configured engine is validated through its single-request method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from runbook.engines.protocols import ENGINE_METHODS


def var_request_fields(
    positions: Mapping[str, float], returns: Mapping[str, Sequence[float]], confidence: float,
    horizon_days: int, method: str = "historical",
) -> dict[str, Any]:
    """The VaRRequest fields of a plain VaR request (notional 1, weights = positions)."""
    assets = list(positions)
    missing = [asset for asset in assets if asset not in returns]
    if missing:
        from runbook.errors import BadInputData

        raise BadInputData(f"returns have no series for position(s) {', '.join(missing)}")
    matrix = np.column_stack([np.asarray(returns[asset], dtype=float) for asset in assets])
    weights = np.array([float(positions[asset]) for asset in assets])
    return {"returns": matrix, "weights": weights, "notional": 1.0, "confidence": float(confidence),
            "horizon_days": int(horizon_days), "method": method}  # fmt: skip


def _as_dict(result: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def plain_callable(component: str, engine: Any) -> Callable[..., dict[str, Any]]:
    """``engine``'s single-request method behind the plain keyword arguments of its kind."""
    from runbook.domain.components import Component

    single = getattr(engine, ENGINE_METHODS[Component(str(component))].single)
    if str(component) == Component.VAR_ENGINE.value:

        def var(positions: Any, returns: Any, confidence: float = 0.99, horizon_days: int = 1,
                method: str = "historical") -> dict[str, Any]:  # fmt: skip
            fields = var_request_fields(positions, returns, confidence, horizon_days, method)
            return _as_dict(single(**fields))

        return var

    convert = _PLAIN_FIELDS.get(str(component), dict)

    def call(**fields: Any) -> dict[str, Any]:
        return _as_dict(single(**convert(fields)))

    return call


def _columns(series: Mapping[str, Sequence[float]], assets: Sequence[str]) -> np.ndarray:
    return np.column_stack([np.asarray(series[asset], dtype=float) for asset in assets])


def _performance_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``positions`` + ``prices`` by asset as the PerformanceRequest's matrix and weights."""
    if not isinstance(fields.get("prices"), Mapping):
        return fields
    positions = fields.pop("positions")
    weights = np.array([float(positions[asset]) for asset in positions])
    return {**fields, "prices": _columns(fields["prices"], list(positions)), "weights": weights}


def _correlation_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``returns`` by asset as the CorrelationRequest's matrix."""
    returns = fields.get("returns")
    return {**fields, "returns": _columns(returns, list(returns))} if isinstance(returns, Mapping) else fields


def _hedge_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A ``book`` given as a mapping of arrays becomes the OptionBook."""
    from runbook.engines.requests import OptionBook

    book = fields.get("book")
    if not isinstance(book, Mapping):
        return fields
    return {**fields, "book": OptionBook(**{name: np.asarray(value) for name, value in book.items()})}


_PLAIN_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "performance_analyzer": _performance_fields,
    "correlation_analyzer": _correlation_fields,
    "hedge_calculator": _hedge_fields,
}


@cache
def _shipped(component: str, role: str) -> Callable[..., dict[str, Any]]:
    from runbook.engines.registry import DEFAULT_PATHS, import_engine

    path = DEFAULT_PATHS[component][role]
    return plain_callable(component, import_engine(path, component))


def legacy_var() -> Callable[..., dict[str, Any]]:
    """Factory: DriftRiskEngine's VaR behind plain keyword arguments."""
    return _shipped("var_engine", "legacy")


def candidate_var() -> Callable[..., dict[str, Any]]:
    """Factory: VaRCalculationEngine behind plain keyword arguments."""
    return _shipped("var_engine", "candidate")


def legacy_returns() -> Callable[..., dict[str, Any]]:
    """Factory: DriftRiskEngine's returns summary behind plain keyword arguments."""
    return _shipped("market_data_provider", "legacy")


def candidate_returns() -> Callable[..., dict[str, Any]]:
    """Factory: MarketDataProvider behind plain keyword arguments."""
    return _shipped("market_data_provider", "candidate")


def legacy_performance() -> Callable[..., dict[str, Any]]:
    """Factory: DriftRiskEngine's performance analysis behind plain keyword arguments."""
    return _shipped("performance_analyzer", "legacy")


def candidate_performance() -> Callable[..., dict[str, Any]]:
    """Factory: PerformanceAnalyzer behind plain keyword arguments."""
    return _shipped("performance_analyzer", "candidate")


def legacy_correlation() -> Callable[..., dict[str, Any]]:
    """Factory: DriftRiskEngine's correlations behind plain keyword arguments."""
    return _shipped("correlation_analyzer", "legacy")


def candidate_correlation() -> Callable[..., dict[str, Any]]:
    """Factory: CorrelationAnalyzer behind plain keyword arguments."""
    return _shipped("correlation_analyzer", "candidate")


def legacy_hedge() -> Callable[..., dict[str, Any]]:
    """Factory: DriftHedgingEngine behind plain keyword arguments."""
    return _shipped("hedge_calculator", "legacy")


def candidate_hedge() -> Callable[..., dict[str, Any]]:
    """Factory: HedgeRequirementsCalculator behind plain keyword arguments."""
    return _shipped("hedge_calculator", "candidate")
