"""Verdicts that neither miss nor cry wolf: tolerance scales, windows, convention faults, exit codes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from runbook._cli.validate import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, exit_code
from runbook.engines.hedging import HedgeRequirementsCalculator
from runbook.engines.registry import load_pair, pair_of
from runbook.engines.requests import VaRResult
from runbook.engines.var import VaRCalculationEngine
from runbook.errors import BadParameter
from runbook.scenarios.loader import load_market_history
from runbook.validation import FinancialCalculationValidator
from runbook.validation import statistics as st
from runbook.validation.noise import NOISE_K, NOISE_SEEDS, noise_check, var_noise_check
from runbook.validation.report import Check, ValidationReport
from runbook.validation.scales import OWN_VALUE, describe, scale_of

HE_DRAWS = 9_000


@pytest.fixture(scope="module")
def validator():
    return FinancialCalculationValidator(check_performance=False)


class BumpedRatio(HedgeRequirementsCalculator):
    """The shipped candidate with its hedge ratio multiplied by (1 + bump)."""

    def __init__(self, bump: float) -> None:
        self.bump = bump

    def _adjust_ratio(self, ratio: np.ndarray) -> np.ndarray:
        return ratio * (1.0 + self.bump)


def _hedge(validator, bump: float, seed: int):
    pair = pair_of("hedge_calculator", load_pair("hedge_calculator").legacy, BumpedRatio(bump))
    return validator.validate_component(
        "hedge_calculator", pair, historical=600, monte_carlo=12_000, seed=seed
    )


@pytest.mark.parametrize("seed", range(5))
def test_an_immaterial_hedge_ratio_change_passes_on_every_seed(validator, seed):
    """Hedge ratio x (1 + 1e-9): hedged P&L is compared relative to the legs it nets, so it passes."""
    report = _hedge(validator, 1e-9, seed)
    assert report.passed, [c.detail for c in report.failed_checks]
    check = report.check("tolerance:monte_carlo:hedged_pnl")
    assert check.numbers["max_rel"] < 1e-8
    assert "unhedged P&L" in check.numbers["scale"]


@pytest.mark.parametrize("seed", range(3))
def test_a_material_hedge_ratio_change_fails_on_the_hedged_pnl(validator, seed):
    """Hedge ratio x (1 + 1e-4) fails, on the hedged P&L itself as well as on the ratio."""
    report = _hedge(validator, 1e-4, seed)
    failed = [c.name for c in report.failed_checks]
    assert "tolerance:monte_carlo:hedged_pnl" in failed
    assert "tolerance:historical:hedge_ratio" in failed


def test_hedged_pnl_scaled_by_itself_would_cry_wolf():
    """The residual relative to itself flags a 1e-9 ratio change; relative to its legs it does not."""
    rng = np.random.default_rng(0)
    unhedged = rng.normal(0.0, 76_000.0, 100_000)
    hedge_leg = -unhedged * 0.999 + rng.normal(0.0, 50.0, unhedged.size)
    old = {"unhedged_pnl": unhedged, "hedged_pnl": unhedged + hedge_leg}
    new_hedged = unhedged + hedge_leg * (1.0 + 1e-9)
    own = st.scaled_differences(old["hedged_pnl"], new_hedged, atol=1e-6)
    legs = st.scaled_differences(old["hedged_pnl"], new_hedged, atol=1e-6, scale=scale_of("hedged_pnl", old))
    assert (np.abs(own) > st.RTOL).sum() > 0
    assert np.abs(legs).max() < 2e-9
    material = unhedged + hedge_leg * (1.0 + 1e-4)
    worse = st.scaled_differences(old["hedged_pnl"], material, atol=1e-6, scale=scale_of("hedged_pnl", old))
    assert (np.abs(worse) > st.RTOL).mean() > 0.5


def test_scales_default_to_the_metric_itself():
    """Every other metric is relative to its own legacy value; a block without the legs falls back too."""
    assert describe("var") == OWN_VALUE
    assert scale_of("var", {"var": np.ones(3)}) is None
    assert scale_of("hedged_pnl", {"hedged_pnl": np.ones(3)}) is None


@pytest.mark.parametrize("fault", ["es_strict_tail", "es_tail_count_plus_one", "quantile_convention"])
@pytest.mark.parametrize("seed", [0, 1])
def test_convention_changes_fail_at_the_default_windows(validator, fault, seed):
    """A changed quantile method, ES tail rule or tail count fails at the defaults, on every seed."""
    report = validator.validate_component(
        "var_engine", load_pair("var_engine", fault=fault), historical=1_500, monte_carlo=4_000, seed=seed
    )
    assert report.verdict == "fail"
    assert "portfolios_intersection_union" in [c.name for c in report.failed_checks]
    assert report.summary["windows"] == [201, 250, 501]


def test_the_strict_tail_rule_hides_in_250_day_windows():
    """On 250-day windows (VaR between two losses) '>' and '>=' agree: that window alone misses it."""
    only_250 = FinancialCalculationValidator(check_performance=False, windows=(250,))
    report = only_250.validate_component(
        "var_engine", load_pair("var_engine", fault="es_strict_tail"), historical=1_500, monte_carlo=0
    )
    assert report.summary["windows"] == [250]
    assert report.check("tolerance:historical:es").passed


def test_windows_split_the_scenarios_and_number_them_consecutively(validator):
    """1,000 scenarios over three windows: 333 + 334 + 333, ids H000000..H000999, no repeats."""
    report = validator.validate_component("var_engine", historical=1_000, monte_carlo=0)
    frame = report.scenarios_frame()
    assert frame["window_days"].value_counts().to_dict() == {250: 333, 201: 334, 501: 333}
    assert frame["scenario_id"].is_unique
    assert frame["scenario_id"].iloc[-1] == "H000999"


def test_bad_windows_are_refused():
    """A window below 20 days, or windows for a component with its own windows, is bad input."""
    with pytest.raises(BadParameter, match="window 5 is too short"):
        FinancialCalculationValidator(windows=(250, 5)).validate_component("var_engine", historical=10)
    with pytest.raises(BadParameter, match="correlation_analyzer has its own"):
        FinancialCalculationValidator(windows=(60,)).validate_component("correlation_analyzer", historical=10)


def test_half_hedge_fails_effectiveness_non_inferiority(validator):
    """Hedging half the ratio keeps ~75% of legacy's effectiveness: below 0.95 (and below 0.5 + 0.25)."""
    pair = load_pair("hedge_calculator", fault="half_hedge")
    report = validator.validate_component("hedge_calculator", pair, historical=600, monte_carlo=HE_DRAWS)
    check = report.check("hedge_effectiveness_noninferiority")
    assert not check.passed
    lows = [row["ratio_lower_95"] for row in check.numbers["books"]]
    assert 0.5 < min(lows) < 0.9


def _report(*checks: Check) -> ValidationReport:
    passed = all(c.passed for c in checks if c.gating)
    return ValidationReport("var_engine", passed, checks, (), {}, {})


def test_verdict_and_exit_code_of_each_outcome():
    """pass -> 0; an inconclusive gate alone -> inconclusive, 3; any failure -> fail, 1."""
    ok = Check("tolerance", True, "")
    undecided = Check("latency", False, "INCONCLUSIVE", inconclusive=True)
    failed = Check("memory", False, "FAIL")
    cases = [((ok,), "pass", EXIT_OK), ((ok, undecided), "inconclusive", EXIT_INCONCLUSIVE)]
    cases.append(((ok, undecided, failed), "fail", EXIT_FAILED))
    for checks, verdict, code in cases:
        report = _report(*checks)
        assert (report.verdict, exit_code(report.verdict)) == (verdict, code)
        assert report.to_dict()["verdict"] == verdict
    assert _report(ok, undecided).passed is False
    assert exit_code("something else") == EXIT_FAILED
    assert [c.outcome for c in (ok, undecided, failed)] == ["pass", "inconclusive", "fail"]


class OwnRandomNumbers(VaRCalculationEngine):
    """A candidate that draws its own random numbers (no common random numbers), optionally biased."""

    common_random_numbers = False

    def __init__(self, bias: float = 1.0) -> None:
        self.bias = bias

    def calculate_var_sync(self, request=None, /, **fields):
        own = dataclasses.replace(request, seed=request.seed * 7_919 + 104_729)
        result = super().calculate_var_sync(own)
        return VaRResult(result.var * self.bias, result.es * self.bias)


@pytest.mark.parametrize(("bias", "passed"), [(1.0, True), (1.08, False), (0.92, False)])
def test_without_common_random_numbers_legacy_noise_sets_the_margin(bias, passed):
    """Own draws: inside legacy-vs-legacy noise passes; 8% off (several margins away) fails."""
    legacy = load_pair("var_engine").legacy
    check = var_noise_check(load_market_history(), legacy, OwnRandomNumbers(bias), seed=0)
    assert check.passed is passed
    rows = {r["metric"]: r for r in check.numbers["rows"]}
    assert set(rows) == {"var", "es"}
    for row in rows.values():
        assert 0 < row["legacy_sd"] < 0.03 * row["legacy_mean"]
        assert row["margin"] == pytest.approx(NOISE_K * row["legacy_sd"] * np.sqrt(2 / NOISE_SEEDS))
        assert row["passed"] is (abs(row["candidate_mean"] - row["legacy_mean"]) <= row["margin"])


def test_the_validator_adds_the_noise_check_for_engines_without_common_random_numbers(validator):
    """A candidate declaring common_random_numbers = False gets the noise-calibrated check."""
    pair = pair_of("var_engine", load_pair("var_engine").legacy, OwnRandomNumbers())
    report = validator.validate_component("var_engine", pair, historical=300, monte_carlo=2_000)
    assert report.check("monte_carlo_noise_calibrated").passed
    assert "margin 4 standard errors" in report.check("monte_carlo_noise_calibrated").detail
    shipped = validator.validate_component("var_engine", historical=300, monte_carlo=2_000)
    with pytest.raises(KeyError):
        shipped.check("monte_carlo_noise_calibrated")


def test_noise_check_with_nothing_to_compare_does_not_pass():
    """No metrics compared is not a pass."""
    assert not noise_check([]).passed
