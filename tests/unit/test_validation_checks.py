"""Every report check fails when it should, and its threshold is pinned from both sides.

Test doubles: hand-built output blocks and engines written here, each a hair inside or outside a
threshold, so a weakened (or tightened) limit makes one of these tests fail.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from runbook.engines.requests import VaRResult
from runbook.scenarios.loader import MarketHistory, load_market_history
from runbook.scenarios.portfolios import PORTFOLIOS, Portfolio
from runbook.scenarios.sets import HISTORICAL, MONTE_CARLO, ScenarioSet
from runbook.validation import critical
from runbook.validation import statistics as st
from runbook.validation.comparison import Margins, intersection_union, metric_checks
from runbook.validation.report import Outputs


def _set(kind: str, ids: tuple[str, ...], index: np.ndarray) -> ScenarioSet:
    n = index.size
    as_of = np.full(n, np.datetime64("2018-01-02"))
    ones = np.ones(n)
    return ScenarioSet(kind, ids, index, as_of, ones, ones, ones, ones * 1e6, None)


def _block(kind: str, legacy: dict, candidate: dict, index: np.ndarray, ids=("P0", "P1")) -> Outputs:
    scaled = {m: st.scaled_differences(legacy[m], candidate[m], atol=1e-6) for m in legacy}
    return Outputs(kind, (_set(kind, ids, index),), legacy, candidate, scaled)


def _pair_block(rel: np.ndarray | float, n: int = 2_000, seed: int = 0) -> Outputs:
    rng = np.random.default_rng(seed)
    old = rng.uniform(100.0, 200.0, n)
    new = old * (1.0 + np.broadcast_to(rel, (n,)))
    index = np.arange(n) % 2
    return _block(HISTORICAL, {"var": old}, {"var": new}, index)


def _checks(block: Outputs) -> dict[str, bool]:
    return {c.name.split(":")[0]: c.passed for c in metric_checks(block, Margins())}


def test_tolerance_holds_at_099_and_fails_at_101_of_rtol():
    """|new - old| = 0.99 rtol |old| passes the per-scenario tolerance; 1.01 rtol on one scenario fails."""
    assert _checks(_pair_block(0.99 * st.RTOL))["tolerance"]
    rel = np.zeros(2_000)
    rel[17] = 1.01 * st.RTOL
    assert not _checks(_pair_block(rel))["tolerance"]


def test_tost_boundaries_of_margin_and_alpha():
    """A mean well inside the margin passes, one at 1.2 delta fails; p just under alpha passes.

    The data put TOST's p between alpha / 100 and alpha: a 100-fold smaller alpha would fail it.
    """
    z = np.random.default_rng(1).normal(0.0, 1.0, 2_000)
    z = (z - z.mean()) / z.std(ddof=1)
    d = 0.5 * st.DELTA + z * (0.5 * st.DELTA / 3.9) * np.sqrt(2_000)  # t = 3.9 against the upper margin
    result = st.tost(d)
    assert st.ALPHA / 100 < result.p_value < st.ALPHA
    assert result.passed
    assert not st.tost(d, alpha=st.ALPHA / 100).passed
    assert not st.tost(d + 0.7 * st.DELTA).passed
    assert result.ci_high < st.DELTA
    assert st.tost(np.full(10, 0.99 * st.DELTA)).passed
    assert not st.tost(np.full(10, 1.01 * st.DELTA)).passed


def test_intersection_union_fails_when_one_portfolio_fails():
    """One portfolio outside tolerance fails the whole gate even though the other passes."""
    rel = np.zeros(2_000)
    rel[1::2] = 2 * st.RTOL  # every scenario of portfolio P1
    check, table = intersection_union([_pair_block(rel)], Margins())
    assert not check.passed
    assert "P1/var" in check.detail
    rows = {r["portfolio_id"]: r["passed"] for r in table["per_portfolio"]}
    assert rows == {"P0": True, "P1": False}
    passing, _ = intersection_union([_pair_block(0.0)], Margins())
    assert passing.passed


class ScaledVaR:
    """An engine double whose VaR / ES of a loss sample is a fixed multiple of the sample's quantile."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def var_from_losses(self, losses: np.ndarray, *, confidence: float, horizon_days: int = 1) -> VaRResult:
        var = float(np.quantile(losses, confidence)) * np.sqrt(horizon_days)
        return VaRResult(var * self.factor, 1.1 * var * self.factor)


def _mc_block(n: int = 4_000) -> Outputs:
    rng = np.random.default_rng(2)
    losses = rng.normal(0.0, 1e4, n)
    ids = tuple(p.portfolio_id for p in PORTFOLIOS[:2])
    return _block(MONTE_CARLO, {"loss": losses}, {"loss": losses.copy()}, np.arange(n) % 2, ids)


@pytest.mark.parametrize(
    ("factor", "passed"), [(1.0, True), (1 + 0.9 * st.RTOL, True), (1 + 1.1 * st.RTOL, False)]
)
def test_monte_carlo_var_es_tolerance(factor, passed):
    """Per-portfolio VaR / ES from common random numbers: within rtol passes, 1.1 rtol fails."""
    check = critical.mc_var_check(_mc_block(), ScaledVaR(1.0), ScaledVaR(factor), st.RTOL)
    assert check.passed is passed
    assert len(check.numbers["rows"]) == 4


def test_monte_carlo_check_without_enough_draws_does_not_pass():
    """Fewer than 100 draws per portfolio gives no rows, and no rows is not a pass."""
    check = critical.mc_var_check(_mc_block(n=150), ScaledVaR(1.0), ScaledVaR(1.0), st.RTOL)
    assert not check.passed


def _hedge_block(drift: np.ndarray) -> Outputs:
    rng = np.random.default_rng(3)
    old = rng.uniform(0.5, 1.5, drift.size)
    new = old * (1 + drift)
    return _block(HISTORICAL, {"hedge_ratio": old}, {"hedge_ratio": new}, np.zeros(drift.size, int))


def test_hedge_ratio_drift_limit_is_pinned():
    """p99 drift 0.99% passes, 1.01% fails; a NaN ratio counts as infinite drift."""
    limit = critical.MAX_HEDGE_RATIO_DRIFT
    assert critical.hedge_ratio_drift_check(_hedge_block(np.full(1_000, 0.99 * limit))).passed
    assert not critical.hedge_ratio_drift_check(_hedge_block(np.full(1_000, 1.01 * limit))).passed
    drift = np.zeros(1_000)
    drift[:20] = np.nan  # 2% of ratios NaN: the p99 is infinite
    check = critical.hedge_ratio_drift_check(_hedge_block(drift))
    assert not check.passed
    assert check.numbers["p99_drift"] == float("inf")


def _he_block(hedge_scale: float, n: int = 20_000) -> Outputs:
    """Legacy hedges fully (HE ~ 0.9); the candidate hedges ``hedge_scale`` of it."""
    rng = np.random.default_rng(4)
    futures = rng.normal(0.0, 1.0, n)
    unhedged = futures + rng.normal(0.0, np.sqrt(1 / 9), n)
    legacy = {"hedged_pnl": unhedged - futures, "unhedged_pnl": unhedged}
    candidate = {"hedged_pnl": unhedged - hedge_scale * futures, "unhedged_pnl": unhedged}
    return _block(MONTE_CARLO, legacy, candidate, np.zeros(n, int), ("B0",))


def _he_ratio(hedge_scale: float) -> float:
    """HE_new / HE_old of _he_block in closed form (population variances)."""
    var_u, var_e = 1 + 1 / 9, 1 / 9
    he_old = 1 - var_e / var_u
    he_new = 1 - ((1 - hedge_scale) ** 2 + var_e) / var_u
    return he_new / he_old


def test_hedge_effectiveness_non_inferiority_limit_is_pinned():
    """HE ratio ~0.93 fails, ~0.985 passes; a limit moved to 0.9 or to 0.99 would flip one of them."""
    assert _he_ratio(0.73) == pytest.approx(0.93, abs=0.01)
    assert _he_ratio(0.88) == pytest.approx(0.985, abs=0.005)
    low = critical.hedge_effectiveness_check(_he_block(0.73), seed=0)
    high = critical.hedge_effectiveness_check(_he_block(0.88), seed=0)
    assert not low.passed
    assert high.passed
    bound = high.numbers["books"][0]["ratio_lower_95"]
    assert 0.95 < bound < 0.99
    assert 0.9 < low.numbers["books"][0]["ratio_lower_95"] < 0.95


class FixedVaR:
    """An engine double that answers every scenario with a VaR proportional to legacy's."""

    def __init__(self, legacy: object, factor: float) -> None:
        self.legacy, self.factor = legacy, factor

    def var_batch(self, batch: object) -> dict[str, np.ndarray]:
        return {"var": self.legacy.var_batch(batch)["var"] * self.factor}  # type: ignore[attr-defined]


def test_backtest_zone_may_not_get_worse():
    """A candidate whose VaR is 40% lower lands in a worse zone and fails; the same VaR passes."""
    from runbook.engines.registry import load_pair

    history = load_market_history()
    legacy = load_pair("var_engine").legacy
    same, _, _ = critical.backtest_check(history, legacy, FixedVaR(legacy, 1.0))
    assert same.passed
    worse, _, _ = critical.backtest_check(history, legacy, FixedVaR(legacy, 0.6))
    assert not worse.passed
    assert worse.numbers["exceptions_candidate"] > worse.numbers["exceptions_legacy"]
    better, _, _ = critical.backtest_check(history, legacy, FixedVaR(legacy, 2.0))
    assert better.passed


def test_monte_carlo_check_judges_each_portfolio_on_its_own_draws():
    """Draws off for the first portfolio only: its rows fail, the second's pass, the check fails."""
    block = _mc_block()
    index = block.scenarios[0].portfolio_index
    candidate = {"loss": np.where(index == 0, block.legacy["loss"] * 1.01, block.legacy["loss"])}
    shifted = Outputs(block.kind, block.scenarios, block.legacy, candidate, block.scaled)
    check = critical.mc_var_check(shifted, ScaledVaR(1.0), ScaledVaR(1.0), st.RTOL)
    assert not check.passed
    by_portfolio = {(r["portfolio_id"], r["metric"]): r["passed"] for r in check.numbers["rows"]}
    first, second = (p.portfolio_id for p in PORTFOLIOS[:2])
    expected = {(first, "var"): False, (first, "es"): False, (second, "var"): True, (second, "es"): True}
    assert by_portfolio == expected


def test_intersection_union_goes_on_past_a_portfolio_without_scenarios():
    """A portfolio with no scenarios before a failing one: the failing one is still judged."""
    rel = np.zeros(2_000)
    rel[1::2] = 2 * st.RTOL
    block = _pair_block(rel)
    shifted_index = block.scenarios[0].portfolio_index + 1  # P0 -> P1, P1 -> P2; P0 has none
    sets = (_set(HISTORICAL, ("P0", "P1", "P2"), shifted_index),)
    moved = Outputs(block.kind, sets, block.legacy, block.candidate, block.scaled)
    check, table = intersection_union([moved], Margins())
    assert not check.passed
    assert {r["portfolio_id"]: r["passed"] for r in table["per_portfolio"]} == {"P1": True, "P2": False}


class ConstantVaR:
    """An engine double answering the same VaR / ES whatever the losses."""

    def __init__(self, var: float, es: float) -> None:
        self.var, self.es = var, es

    def var_from_losses(self, losses: np.ndarray, *, confidence: float, horizon_days: int = 1) -> VaRResult:
        return VaRResult(self.var, self.es)


def _mc_counts(first: int, second: int) -> Outputs:
    """Monte Carlo losses of the first two portfolios, ``first`` and ``second`` draws; the candidate's
    losses of the first portfolio are 1% larger."""
    index = np.repeat([0, 1], [first, second])
    losses = np.random.default_rng(5).normal(0.0, 1e4, index.size)
    candidate = {"loss": np.where(index == 0, losses * 1.01, losses)}
    ids = tuple(p.portfolio_id for p in PORTFOLIOS[:2])
    return _block(MONTE_CARLO, {"loss": losses}, candidate, index, ids)


def test_monte_carlo_judges_portfolios_from_100_draws_and_goes_on_past_smaller_ones():
    """100 draws of a wrong portfolio are judged (FAIL); 99 are skipped and the next portfolio decides."""
    first, second = (p.portfolio_id for p in PORTFOLIOS[:2])
    judged = critical.mc_var_check(_mc_counts(100, 200), ScaledVaR(1.0), ScaledVaR(1.0), st.RTOL)
    assert not judged.passed
    assert judged.detail == (
        "2 of 4 portfolio VaR/ES values from 300 common-random-number draws outside tolerance"
    )
    assert [(r["portfolio_id"], r["passed"]) for r in judged.numbers["rows"]] == [
        (first, False), (first, False), (second, True), (second, True),
    ]  # fmt: skip
    skipped = critical.mc_var_check(_mc_counts(99, 200), ScaledVaR(1.0), ScaledVaR(1.0), st.RTOL)
    assert skipped.passed
    assert [r["portfolio_id"] for r in skipped.numbers["rows"]] == [second, second]


@pytest.mark.parametrize(
    ("legacy", "candidate", "passed"),
    [
        (0.0, 1e-6, True),  # exactly the 1e-6 absolute slack: within
        (1.0, 1.0 + 0.9e-6, True),
        (1.0, 1.0 + 1.1e-6, False),
        (1.0, 1.0 - 1.1e-6, False),
    ],
)
def test_monte_carlo_absolute_slack_is_1e_6_inclusive(legacy, candidate, passed):
    """With no relative tolerance, VaR and ES may differ by 1e-6 (inclusive) and no more."""
    block = _mc_counts(150, 150)
    check = critical.mc_var_check(block, ConstantVaR(legacy, legacy), ConstantVaR(candidate, candidate), 0.0)
    assert check.passed is passed
    assert check.name == "monte_carlo_var_es"


def test_monte_carlo_rows_state_both_values_and_the_relative_difference():
    check = critical.mc_var_check(
        _mc_counts(150, 150), ConstantVaR(200.0, 250.0), ConstantVaR(201.0, 250.0), 1e-5
    )
    first = PORTFOLIOS[0].portfolio_id
    assert check.numbers["rows"][:2] == [
        {"portfolio_id": first, "metric": "var", "legacy": 200.0, "candidate": 201.0, "rel_difference": 0.005,
         "passed": False},
        {"portfolio_id": first, "metric": "es", "legacy": 250.0, "candidate": 250.0, "rel_difference": 0.0,
         "passed": True},
    ]  # fmt: skip
    zero = critical.mc_var_check(_mc_counts(150, 150), ConstantVaR(0.0, 0.0), ConstantVaR(1.0, 0.0), 1e-5)
    assert zero.numbers["rows"][0]["rel_difference"] == float("inf")
    assert not zero.passed


def _history(days: int, moves: dict[int, float]) -> MarketHistory:
    """``days`` closes of three assets, flat but for the day-over-day moves ``{return index: simple return}``
    (every asset alike)."""
    growth = np.ones(days)
    for day, move in moves.items():
        growth[day + 1 :] *= 1.0 + move
    prices = 100.0 * np.column_stack([growth, growth, growth])
    dates = np.datetime64("2020-01-01") + np.arange(days)
    return MarketHistory(dates, prices, ("a", "b", "c"))


def test_backtest_inputs_are_rolling_250_day_windows_and_the_next_days_loss():
    """256 closes: 255 returns, 5 windows of 250; the loss after window k is the return at 250 + k, a
    fall positive, dated the day it happened."""
    history = _history(256, {250: -0.01, 251: 0.02})
    book = Portfolio("T", (1.0, 0.0, 0.0), 1_000_000.0)
    batch, realised, dates = critical.backtest_inputs(history, book)
    assert batch.returns.shape == (5, 250, 3)
    assert realised == pytest.approx([10_000.0, -20_000.0, 0.0, 0.0, 0.0])
    assert dates.tolist() == (np.datetime64("2020-01-01") + np.arange(251, 256)).tolist()
    assert batch.notional.tolist() == [1_000_000.0] * 5


class BatchVaR:
    """An engine double whose historical VaR is ``value`` on every window."""

    def __init__(self, value: float) -> None:
        self.value = value

    def var_batch(self, batch: object) -> dict[str, np.ndarray]:
        return {"var": np.full(batch.notional.size, self.value)}  # type: ignore[attr-defined]


def test_backtest_check_states_zones_exceptions_and_the_series_it_judged():
    """Legacy's VaR is never exceeded (green); a candidate at 0 VaR is exceeded on each of the 26 falls
    (red): FAIL, with both zones, exception counts and the series judged."""
    history = _history(520, dict.fromkeys(range(260, 520, 10), -0.02))
    book = Portfolio("T", (1.0, 0.0, 0.0), 1_000_000.0)
    check, results, series = critical.backtest_check(history, BatchVaR(1e9), BatchVaR(0.0), book)
    assert not check.passed
    assert check.name == "backtest_traffic_light"
    assert check.numbers == {"zone_legacy": "green", "zone_candidate": "red", "exceptions_legacy": 0,
                             "exceptions_candidate": 26}  # fmt: skip
    assert check.detail.startswith(
        "T 1-day 99% VaR on 269 real days: exceptions 0 -> 26; zone (last 250 days) "
    )
    assert (results["portfolio_id"], results["legacy"]["exceptions"], results["candidate"]["exceptions"]) == (
        "T", 0, 26,
    )  # fmt: skip
    assert set(series) == {"dates", "realised_loss", "var_legacy", "var_candidate"}
    assert series["dates"][0] == np.datetime64("2020-01-01") + 251
    assert series["realised_loss"].max() == pytest.approx(20_000.0)
    assert (series["var_legacy"].min(), series["var_candidate"].max()) == (1e9, 0.0)
    assert critical.backtest_check(history, BatchVaR(1e9), BatchVaR(1e9), book)[0].passed


def test_hedge_effectiveness_bootstrap_is_seeded():
    """The same seed gives the same bootstrap bound (a verdict reproduces); another seed another bound."""
    block = _he_block(0.9, n=2_000)
    first = critical.hedge_effectiveness_check(block, seed=7, resamples=50).numbers["books"][0]
    again = critical.hedge_effectiveness_check(block, seed=7, resamples=50).numbers["books"][0]
    other = critical.hedge_effectiveness_check(block, seed=8, resamples=50).numbers["books"][0]
    assert first["ratio_lower_95"] == again["ratio_lower_95"]
    assert first["ratio_lower_95"] != other["ratio_lower_95"]
    # resampled, the lower bound lies under the point estimate of the whole sample
    assert (
        first["ratio_lower_95"] < first["ratio"] == pytest.approx(first["he_candidate"] / first["he_legacy"])
    )
    assert first["book_id"] == "B0"
    check = critical.hedge_effectiveness_check(block, seed=7, resamples=50)
    assert check.numbers["resamples"] == 50
    assert check.numbers["min_ratio"] == 0.95
    assert (
        check.detail
        == f"lowest 95% bootstrap lower bound of HE_new/HE_old {first['ratio_lower_95']:.6f} (limit 0.95)"
    )


def test_hedge_effectiveness_without_books_does_not_pass():
    empty = np.zeros(0)
    block = _block(MONTE_CARLO, {"hedged_pnl": empty, "unhedged_pnl": empty},
                   {"hedged_pnl": empty, "unhedged_pnl": empty}, np.zeros(0, int), ())  # fmt: skip
    check = critical.hedge_effectiveness_check(block, seed=0, resamples=10)
    assert not check.passed
    assert check.detail == "lowest 95% bootstrap lower bound of HE_new/HE_old nan (limit 0.95)"


def test_hedge_ratio_drift_reports_quietly_on_zero_and_missing_ratios():
    """A zero legacy ratio and missing ratios on both sides: infinite drift, a FAIL stating it, and no
    numpy warning on the way."""
    drift = np.zeros(1_000)
    drift[:20] = np.nan
    block = _hedge_block(drift)
    block.legacy["hedge_ratio"][20] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = critical.hedge_ratio_drift_check(block)
    assert not check.passed
    assert check.numbers == {"p99_drift": float("inf"), "max_drift": float("inf"), "limit": 0.01}
    assert check.detail == "p99 hedge-ratio drift inf, max inf (limit 0.01)"
    fine = critical.hedge_ratio_drift_check(_hedge_block(np.full(1_000, 0.005)))
    assert fine.detail == "p99 hedge-ratio drift 0.005, max 0.005 (limit 0.01)"


def test_metric_checks_use_the_margins_given():
    """A 5e-4 relative difference everywhere: within a 1e-3 tolerance, stated with its scale and the
    largest absolute difference; outside the default 1e-5."""
    rng = np.random.default_rng(6)
    old = rng.uniform(100.0, 200.0, 500)
    new = old * (1 + 5e-4)
    loose = Margins(rtol=1e-3, delta=1e-3)
    scaled = {"var": st.scaled_differences(old, new, atol=1e-6, rtol=loose.rtol)}
    block = Outputs(
        HISTORICAL, (_set(HISTORICAL, ("P0",), np.zeros(500, int)),), {"var": old}, {"var": new}, scaled
    )
    tolerance, tost = metric_checks(block, loose)
    assert (tolerance.name, tolerance.passed, tost.passed) == ("tolerance:historical:var", True, True)
    assert tolerance.numbers["max_abs"] == pytest.approx(5e-4 * old.max())
    assert tolerance.numbers["scale"] == "|legacy value|"
    assert tolerance.detail.startswith("0 of 500 scenarios outside |new-old| <= 0.001*scale + atol")
    strict = metric_checks(block, Margins())
    assert not strict[0].passed


def _scaled_block(d: np.ndarray, index: np.ndarray, ids: tuple[str, ...]) -> Outputs:
    """A block whose scaled differences are ``d`` (legacy 100, candidate 100 (1 + d))."""
    old = np.full(d.size, 100.0)
    return Outputs(
        HISTORICAL, (_set(HISTORICAL, ids, index),), {"var": old}, {"var": old * (1 + d)}, {"var": d}
    )


def test_intersection_union_needs_tolerance_and_tost_in_every_cell():
    """P0: one scenario exactly at the tolerance (inclusive: passes). P1: one scenario at twice it, TOST
    still passing: the cell fails, so the gate fails. The table states each cell; BH-adjusted p-values
    of two cells are min(2 p, larger p) and the larger p."""
    d = np.zeros(800)
    d[0] = st.RTOL  # P0
    d[1] = 2 * st.RTOL  # P1
    check, table = intersection_union([_scaled_block(d, np.arange(800) % 2, ("P0", "P1"))], Margins())
    assert (check.name, check.passed) == ("portfolios_intersection_union", False)
    assert check.detail == "1 portfolio/metric cells fail: P1/var"
    assert check.numbers == {"portfolios": 2, "cells": 2, "failing_cells": 1}
    rows = table["per_portfolio"]
    cells = [
        (r["kind"], r["metric"], r["portfolio_id"], r["n"], r["tolerance_failures"], r["passed"])
        for r in rows
    ]
    assert cells == [("historical", "var", "P0", 400, 0, True), ("historical", "var", "P1", 400, 1, False)]
    assert all(r["tost_p"] < st.ALPHA for r in rows)
    for key in ("tost_p", "wilcoxon_p"):
        low, high = sorted(r[key] for r in rows)
        adjusted = {r[key]: r[f"{key}_bh"] for r in rows}
        assert adjusted[high] == pytest.approx(high)
        assert adjusted[low] == pytest.approx(min(2 * low, high))


def test_intersection_union_lists_six_failing_cells_then_an_ellipsis():
    seven = np.full(700, 2 * st.RTOL)
    ids = tuple(f"P{i}" for i in range(7))
    check, _ = intersection_union([_scaled_block(seven, np.arange(700) % 7, ids)], Margins())
    assert check.detail == "7 portfolio/metric cells fail: P0/var, P1/var, P2/var, P3/var, P4/var, P5/var ..."
    passing, _ = intersection_union([_scaled_block(np.zeros(700), np.arange(700) % 7, ids)], Margins())
    assert passing.detail == "all 7 portfolios pass every metric"


def test_tost_margin_and_alpha_given_are_the_ones_used():
    """Mean scaled difference 5e-4, 2.5 standard errors under a 1e-3 margin: TOST p is about 0.006, so
    it passes at alpha 0.025 and fails at the default 0.0005, in the metric checks and per portfolio."""
    z = np.random.default_rng(9).normal(0.0, 1.0, 400)
    d = 5e-4 + (z - z.mean()) / z.std(ddof=1) * 4e-3
    block = _scaled_block(d, np.zeros(400, int), ("P0",))
    loose = Margins(rtol=1.0, delta=1e-3, alpha=0.025)
    tost = metric_checks(block, loose)[1]
    assert tost.passed
    assert 0.0005 < tost.numbers["p_value"] < 0.025
    assert tost.detail.startswith(
        f"TOST p={tost.numbers['p_value']:.3g} (alpha 0.025 per side); 95% CI of mean rel"
    )
    assert tost.detail.endswith(" vs margin +-0.001")
    assert intersection_union([block], loose)[0].passed
    strict_alpha = Margins(rtol=1.0, delta=1e-3)
    assert not metric_checks(block, strict_alpha)[1].passed
    assert not intersection_union([block], strict_alpha)[0].passed
    assert not intersection_union([block], Margins(rtol=1.0, alpha=0.025))[0].passed
