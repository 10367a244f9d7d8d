"""Candidate variants with realistic defects, selectable by name, for demos and validator tests.

Each fault is a subclass or wrapper of a shipped candidate; the validator must fail every one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from runbook.domain.components import Component
from runbook.engines.correlation import CorrelationAnalyzer
from runbook.engines.hedging import HedgeRequirementsCalculator
from runbook.engines.market_data import MarketDataProvider
from runbook.engines.performance import PerformanceAnalyzer
from runbook.engines.protocols import ENGINE_METHODS
from runbook.engines.requests import VaRResult
from runbook.engines.var import VaRCalculationEngine

SLOW_REPEATS = 6  # the slow variant recomputes everything this many times
MEMORY_BALLAST = 8  # the memory-hungry variant holds this many extra copies of its largest input


def _rare(values: np.ndarray) -> np.ndarray:
    """A data-dependent ~0.5% selection (1 in 200), stable for the same inputs."""
    return (np.floor(np.abs(values) * 1e9).astype(np.int64) % 200) == 0


class QuantileConventionVaR(VaRCalculationEngine):
    """Uses numpy's ``inverted_cdf`` quantile instead of ``linear`` (moves 99% VaR by ~0.4%)."""

    quantile_method = "inverted_cdf"


class StrictTailES(VaRCalculationEngine):
    """ES as the mean of losses strictly above VaR instead of at or above it.

    Invisible where VaR falls between two losses; shows where (n - 1) * c is an integer.
    """

    def _historical(self, losses: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        var, _ = super()._historical(losses, confidence)
        in_tail = losses > var[:, None]
        es = np.where(in_tail, losses, 0.0).sum(axis=1) / np.maximum(in_tail.sum(axis=1), 1)
        return var, es


class TailCountPlusOne(VaRCalculationEngine):
    """ES averages one loss more than the tail holds (the largest loss below VaR joins the mean)."""

    def _historical(self, losses: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        var, _ = super()._historical(losses, confidence)
        count = np.minimum((losses >= var[:, None]).sum(axis=1) + 1, losses.shape[1])
        largest_first = np.cumsum(-np.sort(-losses, axis=1), axis=1)
        return var, largest_first[np.arange(losses.shape[0]), count - 1] / count


class SmallBiasVaR(VaRCalculationEngine):
    """Every VaR, ES and loss is 1e-4 (0.01%) too large: ten times the ADR's tolerance."""

    bias = 1.0 + 1e-4

    def calculate_var_sync(self, request: Any = None, /, **fields: object) -> VaRResult:
        result = super().calculate_var_sync(request, **fields)
        return VaRResult(result.var * self.bias, result.es * self.bias)

    def var_batch(self, batch: Any) -> dict[str, np.ndarray]:
        return {name: values * self.bias for name, values in super().var_batch(batch).items()}

    def simulate_losses(self, batch: Any) -> np.ndarray:
        return super().simulate_losses(batch) * self.bias


class RareSignErrorVaR(VaRCalculationEngine):
    """Flips the sign of the P&L on ~0.5% of scenarios and draws (a rare branch gone wrong)."""

    def calculate_var_sync(self, request: Any = None, /, **fields: object) -> VaRResult:
        result = super().calculate_var_sync(request, **fields)
        flip = request is not None and bool(_rare(request.returns[-1:, 0])[0])
        return VaRResult(-result.var, -result.es) if flip else result

    def var_batch(self, batch: Any) -> dict[str, np.ndarray]:
        sign = np.where(_rare(batch.returns[:, -1, 0]), -1.0, 1.0)
        return {name: values * sign for name, values in super().var_batch(batch).items()}

    def simulate_losses(self, batch: Any) -> np.ndarray:
        losses = super().simulate_losses(batch)
        return np.where(_rare(batch.returns[:, 0]), -losses, losses)


class SinglePathHorizonVaR(VaRCalculationEngine):
    """The single-request path scales VaR by the horizon ``h`` instead of ``sqrt(h)``; the batch
    methods are right (a defect only what routers call can show)."""

    def calculate_var_sync(self, request: Any = None, /, **fields: object) -> VaRResult:
        result = super().calculate_var_sync(request, **fields)
        horizon = float(request.horizon_days if request is not None else fields.get("horizon_days", 1))  # type: ignore[arg-type]
        return VaRResult(result.var * np.sqrt(horizon), result.es * np.sqrt(horizon))


class HedgeRatioError(HedgeRequirementsCalculator):
    """Hedge ratio 5% too large (effectiveness barely moves: the drift limit must catch it)."""

    def _adjust_ratio(self, ratio: np.ndarray) -> np.ndarray:
        return ratio * 1.05


class HalfHedge(HedgeRequirementsCalculator):
    """Hedges half the minimum-variance ratio: effectiveness falls well below 95% of legacy's."""

    def _adjust_ratio(self, ratio: np.ndarray) -> np.ndarray:
        return ratio * 0.5


class DayCount360Hedging(HedgeRequirementsCalculator):
    """Option time to expiry in ACT/360 instead of ACT/365."""

    days_per_year = 360.0


class GapFillForward(MarketDataProvider):
    """Forward-fills missing closes: a zero return on the gap day, one extra observation."""

    def _prepare(self, prices: np.ndarray) -> np.ndarray:
        valid = np.isfinite(prices)
        last = np.maximum.accumulate(np.where(valid, np.arange(prices.shape[1]), 0), axis=1)
        return prices[np.arange(prices.shape[0])[:, None], last]


class Annualisation365(PerformanceAnalyzer):
    """Annualises with 365 calendar days instead of 252 trading days."""

    days_per_year = 365.0


class PairwiseNaNDrop(CorrelationAnalyzer):
    """Drops missing returns pair by pair (pandas' default) instead of listwise."""

    def correlation_matrices(self, returns: np.ndarray) -> np.ndarray:
        assets = returns.shape[2]
        out = np.ones((returns.shape[0], assets, assets))
        for i in range(assets):
            for j in range(i + 1, assets):
                pair = returns[:, :, [i, j]]
                keep = np.isfinite(pair).all(axis=2, keepdims=True)
                rho = super().correlation_matrices(np.where(keep, pair, np.nan))[:, 0, 1]
                out[:, i, j] = out[:, j, i] = rho
        return out


def _slow(base: type, component: Component) -> type:
    """A variant of ``base`` that recomputes each call SLOW_REPEATS times (>= 2x slower)."""
    methods = ENGINE_METHODS[component]
    names = [methods.single, methods.batch, *([methods.simulate] if methods.simulate else [])]

    def repeat(name: str) -> Callable[..., Any]:
        parent = getattr(base, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            for _ in range(SLOW_REPEATS - 1):
                parent(self, *args, **kwargs)
            return parent(self, *args, **kwargs)

        return method

    return type(f"Slow{base.__name__}", (base,), {name: repeat(name) for name in names})


def _memory_hungry(base: type, component: Component, *, single: bool = False) -> type:
    """A variant of ``base`` that keeps MEMORY_BALLAST float64 copies of its largest input alive.

    ``single``: the single-request method (what routers call) holds the ballast too; needed where it
    does not go through the batch method (VaR's does not; hedging's does, via a batch of one).
    """
    methods = ENGINE_METHODS[component]
    names = [methods.batch, *([methods.simulate] if methods.simulate else [])]

    def hungry(name: str) -> Callable[..., Any]:
        parent = getattr(base, name)

        def method(self: Any, batch: Any) -> Any:
            arrays = [
                v
                for v in (getattr(batch, f, None) for f in batch.__dataclass_fields__)
                if isinstance(v, np.ndarray)
            ]
            largest = max(arrays, key=lambda array: array.size)
            ballast = [np.array(largest, dtype=np.float64, copy=True) for _ in range(MEMORY_BALLAST)]
            result = parent(self, batch)
            del ballast
            return result

        return method

    def hungry_single(name: str) -> Callable[..., Any]:
        parent = getattr(base, name)

        def method(self: Any, request: Any = None, /, **fields: Any) -> Any:
            names = () if request is None else request.__dataclass_fields__
            values = [*fields.values(), *(getattr(request, f) for f in names)]
            arrays = [v for v in values if isinstance(v, np.ndarray)]
            largest = max(arrays, key=lambda array: array.size, default=np.empty(0))
            ballast = [np.array(largest, dtype=np.float64, copy=True) for _ in range(MEMORY_BALLAST)]
            result = parent(self, request, **fields)
            del ballast
            return result

        return method

    methods_of = {name: hungry(name) for name in names}
    if single:
        methods_of[methods.single] = hungry_single(methods.single)
    return type(f"MemoryHungry{base.__name__}", (base,), methods_of)


CANDIDATES: dict[Component, type] = {
    Component.MARKET_DATA_PROVIDER: MarketDataProvider,
    Component.PERFORMANCE_ANALYZER: PerformanceAnalyzer,
    Component.CORRELATION_ANALYZER: CorrelationAnalyzer,
    Component.VAR_ENGINE: VaRCalculationEngine,
    Component.HEDGE_CALCULATOR: HedgeRequirementsCalculator,
}

FAULTS: dict[str, dict[str, Callable[[], object]]] = {
    Component.MARKET_DATA_PROVIDER: {"gap_fill_forward": GapFillForward},
    Component.PERFORMANCE_ANALYZER: {"annualisation_252_vs_365": Annualisation365},
    Component.CORRELATION_ANALYZER: {"pairwise_nan_drop": PairwiseNaNDrop},
    Component.VAR_ENGINE: {
        "quantile_convention": QuantileConventionVaR,
        "es_strict_tail": StrictTailES,
        "es_tail_count_plus_one": TailCountPlusOne,
        "small_bias": SmallBiasVaR,
        "rare_sign_error": RareSignErrorVaR,
        "single_path_horizon": SinglePathHorizonVaR,
        "slow": _slow(VaRCalculationEngine, Component.VAR_ENGINE),
        "memory_hungry": _memory_hungry(VaRCalculationEngine, Component.VAR_ENGINE, single=True),
    },
    Component.HEDGE_CALCULATOR: {
        "hedge_ratio_error_5pct": HedgeRatioError,
        "half_hedge": HalfHedge,
        "day_count_act_360": DayCount360Hedging,
        "slow": _slow(HedgeRequirementsCalculator, Component.HEDGE_CALCULATOR),
        "memory_hungry": _memory_hungry(HedgeRequirementsCalculator, Component.HEDGE_CALCULATOR),
    },
}


def list_faults() -> list[tuple[str, str]]:
    """Every (component, fault name) pair, in component order."""
    return [(str(component), name) for component, faults in FAULTS.items() for name in faults]
