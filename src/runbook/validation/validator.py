"""FinancialCalculationValidator: ADR-0011 phase 0 / 1.3, as DESIGN.md section 6 defines it.

``validate_component`` runs both engines on historical scenarios from real data and on Monte
Carlo draws under common random numbers, then decides with per-scenario tolerance, TOST
equivalence, intersection-union across portfolios, the critical components' extra checks,
backtests and the ADR's latency / memory limits. Diagnostics (Wilcoxon, KS, bootstrap, BH) are
reported beside the verdict.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from runbook.domain.components import Component, bundled_component
from runbook.engines.conventions import CONVENTIONS
from runbook.engines.registry import EnginePair, load_pair, pair_of
from runbook.errors import BadParameter
from runbook.scenarios.loader import MarketHistory, load_market_history
from runbook.scenarios.sets import ScenarioSet
from runbook.validation import critical
from runbook.validation import statistics as st
from runbook.validation.adapters import ADAPTERS, ComponentAdapter
from runbook.validation.comparison import (
    Margins,
    intersection_union,
    metric_checks,
    metric_diagnostics,
    worst_scenarios,
)
from runbook.validation.custom import scenario_set_from_requests
from runbook.validation.noise import var_noise_check
from runbook.validation.performance import PerformanceGate, compare_performance, head, performance_checks
from runbook.validation.report import Check, Outputs, ValidationReport
from runbook.validation.scales import scale_of
from runbook.validation.single_path import single_path_check
from runbook.validation.windows import historical_sets

Progress = Callable[[str, float, float], None]  # (stage, done, total)


def _no_progress(stage: str, done: float, total: float) -> None:
    """Default progress sink."""


class FinancialCalculationValidator:
    """Validates new components against existing implementations (the ADR's class)."""

    def __init__(
        self,
        *,
        margins: Margins | None = None,
        history: MarketHistory | None = None,
        chunk_size: int = 100_000,
        perf_scenarios: int = 2_000,
        performance_gate: PerformanceGate | None = None,
        check_performance: bool = True,
        windows: tuple[int, ...] | None = None,
    ) -> None:
        self.margins = margins or Margins()
        self._history = history
        self.chunk_size, self.perf_scenarios = chunk_size, perf_scenarios
        self.performance_gate = performance_gate or PerformanceGate()
        self.check_performance = check_performance
        self.windows = windows

    @property
    def history(self) -> MarketHistory:
        """The market history scenarios are cut from (the bundled real data by default)."""
        if self._history is None:
            self._history = load_market_history()
        return self._history

    def validate_component(
        self,
        component: Component | str,
        pair: EnginePair | None = None,
        *,
        historical: int = 10_000,
        monte_carlo: int = 100_000,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> ValidationReport:
        """Validate ``pair`` (default: the shipped engines) on ``historical`` + ``monte_carlo`` scenarios."""
        component = bundled_component(str(component))
        adapter = ADAPTERS[component]
        (progress or _no_progress)("historical scenarios", 0, 1)
        sets = historical_sets(adapter, self.history, historical, seed, self.windows) if historical else []
        return self.validate_scenarios(
            component,
            pair or load_pair(component),
            sets,
            monte_carlo=monte_carlo,
            seed=seed,
            progress=progress,
        )

    async def validate_var_calculations(
        self,
        old_engine: Any,
        new_engine: Any,
        test_scenarios: Sequence[Mapping[str, Any]] | int | None = None,
        *,
        monte_carlo: int = 100_000,
        seed: int = 0,
    ) -> ValidationReport:
        """The ADR's entry point: VaR engines compared on ``test_scenarios`` (dicts of VaRRequest fields,
        or a count of historical scenarios from the bundled data; default 10,000)."""
        return self._adr(Component.VAR_ENGINE, old_engine, new_engine, test_scenarios, monte_carlo, seed)

    async def validate_hedge_calculations(
        self,
        old_engine: Any,
        new_calculator: Any,
        test_portfolios: Sequence[Mapping[str, Any]] | int | None = None,
        *,
        monte_carlo: int = 100_000,
        seed: int = 0,
    ) -> ValidationReport:
        """The ADR's entry point: hedge engines compared on ``test_portfolios`` (dicts of HedgeRequest
        fields, or a count) and on ``monte_carlo`` simulated hedged P&L scenarios."""
        return self._adr(
            Component.HEDGE_CALCULATOR, old_engine, new_calculator, test_portfolios, monte_carlo, seed
        )

    def _adr(
        self, component: Component, old: Any, new: Any, scenarios: Any, monte_carlo: int, seed: int
    ) -> ValidationReport:
        pair = pair_of(component, old, new)
        if scenarios is None or isinstance(scenarios, int):
            return self.validate_component(
                component, pair, historical=scenarios or 10_000, monte_carlo=monte_carlo, seed=seed
            )
        return self.validate_scenarios(
            component,
            pair,
            scenario_set_from_requests(component, scenarios),
            monte_carlo=monte_carlo,
            seed=seed,
        )

    def validate_scenarios(
        self,
        component: Component | str,
        pair: EnginePair,
        hist_set: ScenarioSet | Sequence[ScenarioSet] | None,
        *,
        monte_carlo: int = 100_000,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> ValidationReport:
        """Validate ``pair`` on a given historical scenario set plus ``monte_carlo`` draws."""
        component = bundled_component(str(component))
        sets = [hist_set] if isinstance(hist_set, ScenarioSet) else list(hist_set or [])
        if not sets and monte_carlo <= 0:
            raise BadParameter("nothing to validate: give historical or Monte Carlo scenarios")
        adapter = ADAPTERS[component]
        report = progress or _no_progress
        started = time.perf_counter()
        historical = sum(len(s) for s in sets)
        blocks = [self._compare(adapter, pair, sets, "historical")] if sets else []
        report("historical scenarios", 1, 1)
        if monte_carlo > 0:
            blocks.append(self._monte_carlo(adapter, pair, monte_carlo, seed, report))
        first = sets[0] if sets else None
        checks, diagnostics = self._decide(component, adapter, pair, blocks, first, seed, report)
        summary = {
            "engines": pair.describe(),
            "historical_scenarios": historical,
            "windows": sorted({int(s.window_days[0]) for s in sets if len(s)}),
            "monte_carlo_scenarios": monte_carlo,
            "seed": seed,
            "rtol": self.margins.rtol,
            "tost_delta": self.margins.delta,
            "tost_alpha": self.margins.alpha,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return ValidationReport(
            component=component.value,
            passed=all(c.passed for c in checks if c.gating),
            checks=tuple(checks),
            worst_scenarios=tuple(worst_scenarios(blocks)),
            conventions=CONVENTIONS.to_dict(),
            summary=summary,
            diagnostics={k: v for k, v in diagnostics.items() if k != "backtest_series"},
            outputs=tuple(blocks),
            backtest_series=diagnostics.get("backtest_series", {}),
        )

    def _compare(
        self,
        adapter: ComponentAdapter,
        pair: EnginePair,
        sets: list[ScenarioSet],
        kind: str,
        runs: tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]] | None = None,
    ) -> Outputs:
        if runs is None:
            runs = (
                [adapter.run_historical(pair.legacy, s) for s in sets],
                [adapter.run_historical(pair.candidate, s) for s in sets],
            )
        legacy = {m: np.concatenate([r[m] for r in runs[0]]) for m in runs[0][0]}
        candidate = {m: np.concatenate([r[m] for r in runs[1]]) for m in runs[1][0]}
        scaled = {
            m: st.scaled_differences(
                legacy[m],
                candidate[m],
                atol=adapter.atol(m),
                rtol=self.margins.rtol,
                scale=scale_of(m, legacy),
            )
            for m in legacy
        }
        sizes = [size for size in (adapter.contract_size(s) for s in sets) if size is not None]
        contract_size = np.concatenate(sizes) if len(sizes) == len(sets) else None
        light = tuple(dataclasses.replace(s, batch=None) for s in sets)
        return Outputs(kind, light, legacy, candidate, scaled, contract_size)

    def _monte_carlo(
        self, adapter: ComponentAdapter, pair: EnginePair, count: int, seed: int, report: Progress
    ) -> Outputs:
        sets, old_runs, new_runs = [], [], []
        done = 0
        for chunk in adapter.monte_carlo(self.history, count=count, seed=seed, chunk_size=self.chunk_size):
            old_runs.append(adapter.run_monte_carlo(pair.legacy, chunk))
            new_runs.append(adapter.run_monte_carlo(pair.candidate, chunk))
            sets.append(dataclasses.replace(chunk, batch=None))
            done += len(chunk)
            report("monte carlo scenarios", done, count)
        return self._compare(adapter, pair, sets, "monte_carlo", (old_runs, new_runs))

    def _decide(
        self,
        component: Component | str,
        adapter: ComponentAdapter,
        pair: EnginePair,
        blocks: list[Outputs],
        hist_set: ScenarioSet | None,
        seed: int,
        report: Progress,
    ) -> tuple[list[Check], dict[str, Any]]:
        report("statistics", 0, 1)
        checks: list[Check] = []
        diagnostics: dict[str, Any] = {"metrics": {}}
        for block in blocks:
            checks.extend(metric_checks(block, self.margins))
            diagnostics["metrics"].update(metric_diagnostics(block, seed=seed))
        iu_check, iu_table = self._intersection_union(blocks)
        checks.append(iu_check)
        diagnostics["intersection_union"] = iu_table
        mc = next((b for b in blocks if b.kind == "monte_carlo"), None)
        if component is Component.VAR_ENGINE:
            if mc is not None:
                checks.append(critical.mc_var_check(mc, pair.legacy, pair.candidate, self.margins.rtol))
            if not getattr(pair.candidate, "common_random_numbers", True):
                checks.append(var_noise_check(self.history, pair.legacy, pair.candidate, seed=seed))
            report("backtests", 0, 1)
            check, results, series = critical.backtest_check(self.history, pair.legacy, pair.candidate)
            checks.append(check)
            diagnostics["backtests"], diagnostics["backtest_series"] = results, series
        if component is Component.HEDGE_CALCULATOR:
            if hist_set is not None:
                checks.append(critical.hedge_ratio_drift_check(blocks[0]))
            if mc is not None:
                checks.append(critical.hedge_effectiveness_check(mc, seed=seed))
        checks.append(single_path_check(pair, seed=seed, atol=adapter.atol))
        report("statistics", 1, 1)
        if self.check_performance and hist_set is not None:
            report("performance", 0, 1)
            checks.extend(self._performance(adapter, pair, hist_set, diagnostics))
            report("performance", 1, 1)
        return checks, diagnostics

    def _intersection_union(self, blocks: list[Outputs]) -> tuple[Check, dict[str, Any]]:
        return intersection_union(blocks, self.margins)

    def _performance(
        self, adapter: ComponentAdapter, pair: EnginePair, hist_set: ScenarioSet, diagnostics: dict[str, Any]
    ) -> list[Check]:
        rows = min(self.perf_scenarios, len(hist_set))
        subset = dataclasses.replace(
            hist_set, batch=head(hist_set.batch, rows), portfolio_index=hist_set.portfolio_index[:rows]
        )
        perf = compare_performance(
            lambda: adapter.run_historical(pair.legacy, subset),
            lambda: adapter.run_historical(pair.candidate, subset),
            scenarios=rows,
            gate=self.performance_gate,
        )
        diagnostics["performance"] = perf.to_dict()
        return performance_checks(perf)


def validate_component(
    component: Component | str,
    pair: EnginePair | None = None,
    *,
    historical: int = 10_000,
    monte_carlo: int = 100_000,
    seed: int = 0,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate one component with a default validator (see FinancialCalculationValidator)."""
    return FinancialCalculationValidator().validate_component(
        component, pair, historical=historical, monte_carlo=monte_carlo, seed=seed, progress=progress
    )
