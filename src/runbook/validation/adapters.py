"""What the validator needs to know per component: metrics, absolute tolerances, scenario builders.

Absolute tolerances (``atol``) are in each metric's units: currency for VaR / ES / P&L / book
value, units for hedge quantities, plain numbers for returns, ratios and correlations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from runbook.domain.components import Component
from runbook.engines.correlation import pair_names
from runbook.engines.market_data import MARKET_DATA_METRICS
from runbook.engines.performance import PERFORMANCE_METRICS
from runbook.engines.protocols import ENGINE_METHODS
from runbook.engines.requests import HEDGE_METRICS
from runbook.scenarios import historical, montecarlo
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.sets import ScenarioSet

VAR_METRICS = ("var", "es", "var_parametric", "es_parametric")
ATOL: dict[str, float] = {
    "var": 1e-6,
    "es": 1e-6,
    "var_parametric": 1e-6,
    "es_parametric": 1e-6,
    "loss": 1e-6,
    "hedge_ratio": 1e-9,
    "contracts": 1e-9,
    "effectiveness": 1e-9,
    "book_value": 1e-6,
    "book_delta": 1e-9,
    "book_gamma": 1e-12,
    "book_vega": 1e-6,
    "delta_hedge_units": 1e-9,
    "gamma_hedge_options": 1e-9,
    "gamma_delta_units": 1e-9,
    "vega_hedge_options": 1e-9,
    "hedged_pnl": 1e-6,
    "option_pnl": 1e-6,
    "volatility": 1e-12,
    "mean_return": 1e-12,
    "total_return": 1e-12,
    "observations": 0.0,
    "sharpe": 1e-9,
    "annual_return": 1e-12,
    "annual_volatility": 1e-12,
    "max_drawdown": 1e-12,
}
CORRELATION_ATOL = 1e-12


@dataclass(frozen=True, slots=True)
class ComponentAdapter:
    """How to build scenarios for a component and run an engine on them."""

    component: Component
    metrics: tuple[str, ...]
    mc_metrics: tuple[str, ...]
    historical: Callable[..., ScenarioSet]
    monte_carlo: Callable[..., Iterator[ScenarioSet]]

    def atol(self, metric: str) -> float:
        """Absolute tolerance of ``metric`` in its units."""
        return ATOL.get(metric, CORRELATION_ATOL)

    def run_historical(self, engine: Any, scenarios: ScenarioSet) -> dict[str, np.ndarray]:
        """The engine's batch outputs on historical scenarios."""
        out = getattr(engine, ENGINE_METHODS[self.component].batch)(scenarios.batch)
        return _checked(out, self.metrics, len(scenarios))

    def run_monte_carlo(self, engine: Any, scenarios: ScenarioSet) -> dict[str, np.ndarray]:
        """The engine's outputs on one Monte Carlo chunk."""
        methods = ENGINE_METHODS[self.component]
        if methods.simulate is None:
            out = getattr(engine, methods.batch)(scenarios.batch)
        else:
            out = getattr(engine, methods.simulate)(scenarios.batch)
            if isinstance(out, np.ndarray):
                out = {"loss": out}
        return _checked(out, self.mc_metrics, len(scenarios))

    def contract_size(self, scenarios: ScenarioSet) -> np.ndarray | None:
        """Currency value of one futures contract per historical hedge scenario (None elsewhere)."""
        batch = scenarios.batch
        if self.component is Component.HEDGE_CALCULATOR and hasattr(batch, "multiplier"):
            return batch.futures_price * batch.multiplier  # type: ignore[attr-defined]
        return None

    def output_columns(
        self,
        values: dict[str, np.ndarray],
        *,
        kind: str,
        notional: np.ndarray,
        contract_size: np.ndarray | None,
    ) -> dict[str, Any]:
        """Engine-output frame columns (var, es, hedge_ratio, contracts, contract_size, exposure, value)."""
        nan = np.full(notional.shape[0], np.nan)
        cols = dict.fromkeys(("var", "es", "hedge_ratio", "contracts", "contract_size", "exposure"), nan)
        primary = (self.metrics if kind == "historical" else self.mc_metrics)[0]
        cols["value"] = values[primary]
        if self.component is Component.VAR_ENGINE and kind == "historical":
            cols["var"], cols["es"] = values["var"], values["es"]
        if self.component is Component.HEDGE_CALCULATOR:
            cols["exposure"] = notional
            if kind == "historical":
                cols["hedge_ratio"], cols["contracts"] = values["hedge_ratio"], values["contracts"]
                cols["contract_size"] = contract_size if contract_size is not None else nan
        return cols


def _checked(out: Any, metrics: tuple[str, ...], rows: int) -> dict[str, np.ndarray]:
    from runbook.errors import BadEngine

    if not isinstance(out, dict):
        raise BadEngine(f"engine batch method returned {type(out).__name__}, expected a dict of arrays")
    missing = [m for m in metrics if m not in out]
    if missing:
        raise BadEngine(f"engine batch output lacks metric(s) {missing}; expected {list(metrics)}")
    result = {m: np.asarray(out[m], dtype=np.float64).reshape(-1) for m in metrics}
    for m, values in result.items():
        if values.shape[0] != rows:
            raise BadEngine(f"engine metric {m!r} has {values.shape[0]} values for {rows} scenarios")
    return result


def _window_mc(component: str) -> Callable[..., Iterator[ScenarioSet]]:
    def build(
        history: MarketHistory, *, count: int, seed: int = 0, chunk_size: int = 100_000
    ) -> Iterator[ScenarioSet]:
        return montecarlo.window_mc(component, history, count=count, seed=seed, chunk_size=chunk_size)

    return build


ADAPTERS: dict[str, ComponentAdapter] = {
    Component.MARKET_DATA_PROVIDER: ComponentAdapter(
        Component.MARKET_DATA_PROVIDER,
        MARKET_DATA_METRICS,
        MARKET_DATA_METRICS,
        historical.market_data_scenarios,
        _window_mc("market_data_provider"),
    ),
    Component.PERFORMANCE_ANALYZER: ComponentAdapter(
        Component.PERFORMANCE_ANALYZER,
        PERFORMANCE_METRICS,
        PERFORMANCE_METRICS,
        historical.performance_scenarios,
        _window_mc("performance_analyzer"),
    ),
    Component.CORRELATION_ANALYZER: ComponentAdapter(
        Component.CORRELATION_ANALYZER,
        pair_names(3),
        pair_names(3),
        historical.correlation_scenarios,
        _window_mc("correlation_analyzer"),
    ),
    Component.VAR_ENGINE: ComponentAdapter(
        Component.VAR_ENGINE,
        VAR_METRICS,
        ("loss",),
        historical.var_scenarios,
        montecarlo.var_mc,
    ),
    Component.HEDGE_CALCULATOR: ComponentAdapter(
        Component.HEDGE_CALCULATOR,
        HEDGE_METRICS,
        ("hedged_pnl", "option_pnl", "unhedged_pnl"),
        historical.hedge_scenarios,
        montecarlo.hedge_mc,
    ),
}
