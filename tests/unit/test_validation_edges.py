"""Edge cases of the validation statistics, report, plots, adapters and custom scenarios."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from runbook.domain.components import Component
from runbook.engines.correlation import CorrelationAnalyzer
from runbook.engines.market_data import MarketDataProvider
from runbook.engines.performance import PerformanceAnalyzer
from runbook.errors import BadEngine, BadInputData
from runbook.scenarios.sets import HISTORICAL, MONTE_CARLO, ScenarioSet
from runbook.validation import critical, html
from runbook.validation import statistics as st
from runbook.validation.adapters import ADAPTERS
from runbook.validation.comparison import Margins, intersection_union, worst_scenarios
from runbook.validation.custom import scenario_set_from_requests
from runbook.validation.report import Check, Outputs, ValidationReport, WorstScenario


def test_empty_and_non_finite_inputs_never_pass():
    """No scenarios, or an infinite difference, is never a pass; the diagnostics say NaN or 1."""
    empty = np.array([])
    assert not st.tolerance(empty, empty, empty).passed
    assert st.tost(empty).p_value == 1.0
    infinite = st.tost(np.array([0.0, np.inf]))
    assert (infinite.p_value, infinite.mean, infinite.passed) == (1.0, np.inf, False)
    assert np.isnan(st.ks_p(empty, np.ones(3)))
    assert all(np.isnan(st.bootstrap_mean_ci(np.array([np.nan]))))
    assert st.benjamini_hochberg(empty).size == 0
    assert st.wilcoxon_p(np.ones(5), np.ones(5) * 2) == 1.0


def test_bootstrap_subsamples_large_inputs(monkeypatch):
    """Above BOOTSTRAP_MAX_N values the bootstrap runs on a seeded subsample and still brackets the mean."""
    monkeypatch.setattr(st, "BOOTSTRAP_MAX_N", 500)
    d = np.random.default_rng(0).normal(1.0, 0.1, 5_000)
    low, high = st.bootstrap_mean_ci(d, seed=3)
    assert low < 1.0 < high
    assert (low, high) == st.bootstrap_mean_ci(d, seed=3)


def test_effectiveness_bootstrap_subsamples_large_books(monkeypatch):
    """Books larger than HE_BOOTSTRAP_MAX_N draws are subsampled; identical engines still pass."""
    monkeypatch.setattr(critical, "HE_BOOTSTRAP_MAX_N", 300)
    rng = np.random.default_rng(1)
    futures = rng.normal(0.0, 1.0, 1_000)
    unhedged = futures + rng.normal(0.0, 0.3, 1_000)
    outputs = {"hedged_pnl": unhedged - futures, "unhedged_pnl": unhedged}
    block = _block(dict(outputs), dict(outputs), np.zeros(1_000, int), ("B0",))
    check = critical.hedge_effectiveness_check(block, seed=0, resamples=50)
    assert check.passed
    assert check.numbers["books"][0]["ratio"] == pytest.approx(1.0)


def _set(ids: tuple[str, ...], index: np.ndarray, start: int = 0) -> ScenarioSet:
    n = index.size
    ones = np.ones(n)
    as_of = np.full(n, np.datetime64("NaT"))
    return ScenarioSet(HISTORICAL, ids, index, as_of, ones, ones, ones, ones, None, start)


def _block(legacy, candidate, index, ids=("P0", "P1", "P2"), sets=None) -> Outputs:
    scaled = {m: st.scaled_differences(legacy[m], candidate[m], atol=1e-6) for m in legacy}
    return Outputs(HISTORICAL, sets or (_set(ids, index),), legacy, candidate, scaled)


def test_a_portfolio_without_scenarios_is_skipped_not_failed():
    """Intersection-union covers the portfolios that have scenarios; an absent one adds no row."""
    old = np.linspace(1.0, 2.0, 40)
    block = _block({"var": old}, {"var": old.copy()}, np.arange(40) % 2)
    check, table = intersection_union([block], Margins())
    assert check.passed
    assert {r["portfolio_id"] for r in table["per_portfolio"]} == {"P0", "P1"}


def test_worst_scenarios_name_the_right_set_and_id():
    """A worst scenario in the second scenario set gets that set's id and portfolio."""
    first, second = _set(("P0",), np.zeros(5, int)), _set(("Q0", "Q1"), np.array([0, 1, 1]), start=5)
    old = np.ones(8)
    new = old.copy()
    new[6] = 2.0  # second set, local row 1: portfolio Q1, id H000006
    block = _block({"var": old}, {"var": new}, None, sets=(first, second))
    worst = worst_scenarios([block], count=1)[0]
    assert (worst.scenario_id, worst.portfolio_id, worst.candidate) == ("H000006", "Q1", 2.0)


def _report(outputs=(), diagnostics=None, **summary) -> ValidationReport:
    checks = (Check("tolerance", True, "ok", {"x": np.float64(np.inf), "p": Path("/tmp/x")}),)
    conventions = {"sign": "loss"}
    return ValidationReport("var_engine", True, checks, (), conventions, summary, diagnostics or {}, outputs)


def test_report_json_turns_numpy_inf_and_paths_into_plain_values():
    """numpy scalars become numbers, inf becomes null, paths become strings; unknown checks are KeyError."""
    report = _report(seconds=np.float32(1.5), arrays=np.array([1.0, np.nan]))
    data = json.loads(report.to_json())
    assert data["checks"][0]["numbers"] == {"x": None, "p": "/tmp/x"}
    assert data["summary"] == {"seconds": 1.5, "arrays": [1.0, None]}
    with pytest.raises(KeyError):
        report.check("absent")


def test_an_empty_report_has_empty_frames_and_no_plots(tmp_path):
    """Without outputs there are no frames and no plots, and the HTML page is still written."""
    report = _report()
    assert report.frame().empty
    assert report.scenarios_frame().empty
    assert report.outputs_frame().empty
    assert html.scatter_plot(report) is None
    assert html.difference_plot(report) is None
    assert html.backtest_plot(report) is None
    assert "PASS" in Path(report.write(tmp_path)["html"]).read_text(encoding="utf-8")


def test_plots_sample_large_blocks_and_skip_non_finite_values():
    """Scatter plots sample MAX_POINTS points; a block of NaN values draws no 45-degree line."""
    assert html._sample(html.MAX_POINTS + 10).size == html.MAX_POINTS
    assert html._sample(7).tolist() == list(range(7))
    nan = np.full(4, np.nan)
    block = _block({"var": nan}, {"var": nan.copy()}, np.zeros(4, int))
    assert html.scatter_plot(_report(outputs=(block,))).startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ([1.0], "returned list"),
        ({"var": np.ones(3)}, "lacks metric"),
        ({m: np.ones(2) for m in ("var", "es", "var_parametric", "es_parametric")}, "has 2 values for 3"),
    ],
)
def test_engine_outputs_of_the_wrong_shape_are_a_bad_engine(out, message):
    """A batch method returning a non-dict, missing metrics or the wrong row count is BadEngine."""

    class Broken:
        def var_batch(self, batch):
            return out

    scenarios = _set(("P0",), np.zeros(3, int))
    with pytest.raises(BadEngine, match=message):
        ADAPTERS[Component.VAR_ENGINE].run_historical(Broken(), scenarios)


def test_custom_scenarios_edge_cases():
    """No scenarios, mismatched shapes and an unsupported component are bad input with one line."""
    with pytest.raises(BadInputData, match="no test scenarios"):
        scenario_set_from_requests(Component.VAR_ENGINE, [])
    items = [
        {"returns": np.zeros((30, 2)) + 0.001, "weights": [0.5, 0.5], "notional": 1.0},
        {"returns": np.zeros((31, 2)) + 0.001, "weights": [0.5, 0.5], "notional": 1.0},
    ]
    with pytest.raises(BadInputData, match="mismatched shapes"):
        scenario_set_from_requests(Component.VAR_ENGINE, items)
    with pytest.raises(BadInputData, match="not correlation_analyzer"):
        scenario_set_from_requests(Component.CORRELATION_ANALYZER, items[:1])


def test_custom_hedge_scenarios_with_an_option_book():
    """Hedge requests (an option book given as a dict) become one historical hedge scenario set."""
    rng = np.random.default_rng(2)
    item = {
        "spot_returns": rng.normal(0, 0.01, 60),
        "futures_returns": rng.normal(0, 0.01, 60),
        "exposure": 1e6,
        "futures_price": 100.0,
        "multiplier": 50.0,
        "underlying_price": 100.0,
        "book": {
            "strikes": [95.0, 105.0],
            "expiry_days": [30.0, 60.0],
            "quantities": [10.0, -5.0],
            "is_call": [True, False],
        },
        "portfolio_id": "B9",
    }
    from runbook.engines.requests import OptionBook

    built = dict(item, book=OptionBook(**item["book"]))  # an OptionBook is taken as it is
    scenarios = scenario_set_from_requests(Component.HEDGE_CALCULATOR, [item, built])
    assert len(scenarios) == 2
    assert scenarios.portfolio_ids == ("B9",)
    assert scenarios.window_days.tolist() == [60, 60]
    assert scenarios.notional.tolist() == [1e6, 1e6]


def test_performance_refuses_weights_that_make_the_value_negative():
    """A portfolio whose value goes to zero or below is bad input, not a NaN Sharpe ratio."""
    prices = np.array([[100.0, 100.0], [101.0, 150.0], [102.0, 210.0]])
    with pytest.raises(BadInputData, match="portfolio value is <= 0"):
        PerformanceAnalyzer().analyze_performance_sync(prices=prices, weights=[2.0, -1.0])


async def test_async_entry_points_of_the_analytics_candidates():
    """The async entry points answer like the sync ones."""
    prices = np.cumprod(1 + np.random.default_rng(3).normal(0, 0.01, (40, 3)), axis=0) * 100
    market = MarketDataProvider()
    assert await market.get_returns(prices=prices[:, 0]) == market.get_returns_sync(prices=prices[:, 0])
    returns = np.diff(np.log(prices), axis=0)
    analyzer = CorrelationAnalyzer()
    async_result = await analyzer.calculate_correlations(returns=returns)
    assert async_result.upper_triangle == analyzer.calculate_correlations_sync(returns=returns).upper_triangle


def test_validator_paths_without_one_kind_of_scenario():
    """Monte Carlo only: no drift or performance check; historical only: no effectiveness check;
    neither: bad input."""
    from runbook.engines.registry import load_pair
    from runbook.errors import BadParameter
    from runbook.validation import FinancialCalculationValidator

    validator = FinancialCalculationValidator(check_performance=False)
    mc_only = validator.validate_component("hedge_calculator", historical=0, monte_carlo=2_000)
    names = {c.name for c in mc_only.checks}
    assert "hedge_effectiveness_noninferiority" in names
    assert not names & {"hedge_ratio_drift", "latency", "memory"}
    assert mc_only.summary["windows"] == []
    historical_only = validator.validate_component("hedge_calculator", historical=200, monte_carlo=0)
    names = {c.name for c in historical_only.checks}
    assert "hedge_ratio_drift" in names
    assert "hedge_effectiveness_noninferiority" not in names
    with pytest.raises(BadParameter, match="nothing to validate"):
        validator.validate_scenarios("var_engine", load_pair("var_engine"), None, monte_carlo=0)


async def test_adr_entry_point_with_a_count_and_the_module_function():
    """validate_var_calculations(old, new, 300) samples 300 historical scenarios; validate_component()
    with its default validator gates performance too."""
    from runbook.engines.registry import load_pair
    from runbook.validation import FinancialCalculationValidator, validate_component

    pair = load_pair("var_engine")
    validator = FinancialCalculationValidator(check_performance=False)
    report = await validator.validate_var_calculations(pair.legacy, pair.candidate, 300, monte_carlo=1_000)
    assert report.summary["historical_scenarios"] == 300
    stages: list[str] = []
    full = validate_component(
        "correlation_analyzer", historical=100, monte_carlo=200, progress=lambda s, d, t: stages.append(s)
    )
    assert {"latency", "memory"} <= {c.name for c in full.checks}
    assert "performance" in stages


def test_fewer_scenarios_than_windows_skip_the_empty_share():
    """Two scenarios over three windows: one each in two windows, none in the third, ids 0 and 1."""
    from runbook.scenarios.loader import load_market_history
    from runbook.validation.windows import historical_sets

    sets = historical_sets(ADAPTERS[Component.VAR_ENGINE], load_market_history(), 2, 0)
    assert [len(s) for s in sets] == [1, 1]
    assert [s.start for s in sets] == [0, 1]


def test_peak_bytes_inside_an_already_running_trace():
    """peak_bytes works (and leaves tracing on) when tracemalloc is already tracing."""
    import tracemalloc

    from runbook.validation.performance import peak_bytes

    tracemalloc.start()
    try:
        assert peak_bytes(lambda: np.ones(100_000)) >= 800_000
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


async def test_async_performance_and_hedge_entry_points():
    """analyze_performance answers like the sync call; validate_hedge_calculations takes a count."""
    from runbook.engines.registry import load_pair
    from runbook.validation import FinancialCalculationValidator

    prices = np.cumprod(1 + np.random.default_rng(4).normal(0, 0.01, (30, 2)), axis=0) * 100
    analyzer = PerformanceAnalyzer()
    result = await analyzer.analyze_performance(prices=prices, weights=[0.5, 0.5])
    assert result == analyzer.analyze_performance_sync(prices=prices, weights=[0.5, 0.5])
    pair = load_pair("hedge_calculator")
    validator = FinancialCalculationValidator(check_performance=False)
    report = await validator.validate_hedge_calculations(pair.legacy, pair.candidate, 100, monte_carlo=500)
    assert report.summary["historical_scenarios"] == 100


def test_worst_scenarios_rank_unknown_differences_first_then_largest():
    """Monte Carlo rows of two sets: a NaN scaled difference ranks first, then by size; ids, kind,
    metric and differences name the row within its own set."""
    a = dataclasses.replace(_set(("P0",), np.zeros(3, int)), kind=MONTE_CARLO)
    b = dataclasses.replace(_set(("Q0",), np.zeros(3, int), start=40), kind=MONTE_CARLO)
    old = np.full(6, 100.0)
    new = np.array([103.0, 100.0, 102.0, 101.0, 100.5, 100.0])
    scaled = (new - old) / old
    scaled[4] = np.nan  # a difference that cannot be measured
    block = Outputs(MONTE_CARLO, (a, b), {"var": old}, {"var": new}, {"var": scaled})
    worst = worst_scenarios([block], count=3)
    assert [w.scenario_id for w in worst] == ["M0000041", "M0000000", "M0000002"]
    assert worst[1] == WorstScenario("M0000000", MONTE_CARLO, "P0", "var", 100.0, 103.0, 3.0, 0.03)
    assert worst[0].portfolio_id == "Q0"
    assert len(worst_scenarios([block], count=10)) == 6
