"""Equivalence statistics: tolerance, TOST (identical and immaterial-bias cases), diagnostics, BH."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.validation import statistics as st


def test_scaled_difference_matches_the_tolerance_rule():
    """|d| <= 1e-5 exactly when |new - old| <= 1e-5 * |old| + atol."""
    old = np.array([100.0, 100.0, 0.0, 0.0])
    new = np.array([100.0009, 100.0011, 5e-7, 2e-6])
    d = st.scaled_differences(old, new, atol=1e-6)
    inside = np.abs(new - old) <= 1e-5 * np.abs(old) + 1e-6
    np.testing.assert_array_equal(np.abs(d) <= 1e-5, inside)
    assert inside.tolist() == [True, False, True, False]


def test_nan_on_one_side_is_an_infinite_difference():
    """A NaN from one engine only can never pass; NaN from both counts as agreement."""
    d = st.scaled_differences(np.array([1.0, np.nan]), np.array([np.nan, np.nan]), atol=0.0)
    assert np.isinf(d[0])
    assert d[1] == 0.0


def test_tost_identical_outputs_pass_not_nan():
    """Zero variance of identical outputs gives p = 0 and a pass, never NaN."""
    result = st.tost(np.zeros(10_000))
    assert result.p_value == 0.0
    assert result.passed


def test_tost_immaterial_bias_passes_at_large_n():
    """A 1e-9 bias with noise at n = 10,000 is equivalent within 1e-5 (a t-test would call it different)."""
    d = 1e-9 + np.random.default_rng(0).normal(0, 1e-9, 10_000)
    from scipy import stats

    assert stats.ttest_1samp(d, 0.0).pvalue < 1e-3
    assert st.tost(d).passed


def test_tost_constant_bias_without_noise_passes():
    """A constant 1e-9 bias (zero variance) passes; a constant 1e-4 bias fails."""
    assert st.tost(np.full(10_000, 1e-9)).passed
    assert not st.tost(np.full(10_000, 1e-4)).passed


def test_tost_material_bias_fails_and_ci_excludes_zero_margin():
    """A 2e-5 mean difference is outside the 1e-5 margin: p large, CI outside the margin."""
    d = 2e-5 + np.random.default_rng(1).normal(0, 1e-6, 5_000)
    result = st.tost(d)
    assert not result.passed
    assert result.ci_low > 1e-5


def test_tost_rare_large_errors_fail():
    """Sign flips (d = -2) on 0.5% of scenarios move the mean far outside the margin."""
    d = np.zeros(10_000)
    d[::200] = -2.0
    assert not st.tost(d).passed


def test_tolerance_summary():
    """Failures, max and p99 of |d| are reported."""
    d = np.zeros(1000)
    d[:3] = [2e-5, -3e-5, 5e-6]
    result = st.tolerance(np.ones(1000), np.ones(1000) + d, d)
    assert result.failures == 2
    assert result.max_rel == pytest.approx(3e-5)
    assert not result.passed


def test_wilcoxon_all_equal_is_one():
    """Identical outputs: the Wilcoxon diagnostic is 1.0, not an error."""
    x = np.arange(100.0)
    assert st.wilcoxon_p(x, x) == 1.0
    assert st.wilcoxon_p(x, x + 1e-3) < 1e-6


def test_ks_detects_a_shift_only_when_present():
    """KS p-value is 1 for the same sample and small for a shifted one."""
    x = np.random.default_rng(2).normal(size=2000)
    assert st.ks_p(x, x) == pytest.approx(1.0)
    assert st.ks_p(x, x + 0.5) < 1e-6


def test_bootstrap_ci_contains_the_mean():
    """The percentile bootstrap CI of the mean brackets the sample mean."""
    d = np.random.default_rng(3).normal(1e-7, 1e-7, 3000)
    low, high = st.bootstrap_mean_ci(d, seed=1)
    assert low < d.mean() < high


def test_benjamini_hochberg_known_values():
    """BH adjustment of (0.01, 0.04, 0.03, 0.005) is (0.02, 0.04, 0.04, 0.02)."""
    adjusted = st.benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(adjusted, [0.02, 0.04, 0.04, 0.02])


def test_tost_fields_are_schuirmanns_two_one_sided_t_tests():
    """Every field against the textbook TOST (Schuirmann 1987) computed here with scipy's t law:
    standard error s/sqrt(n) with s the sample deviation (n - 1), n - 1 degrees of freedom, p the larger
    one-sided p-value, and the (1 - 2 alpha) interval mean -/+ t(1 - alpha) * se."""
    from scipy import stats

    d = np.array([3e-6, -1e-6, 4e-6, 2e-6, 0.0, 5e-6, -2e-6, 1e-6])
    delta, alpha = 1e-5, 0.05
    n = d.size
    mean = sum(d) / n
    se = (sum((x - mean) ** 2 for x in d) / (n - 1)) ** 0.5 / n**0.5
    p = max(stats.t.sf((mean + delta) / se, n - 1), stats.t.cdf((mean - delta) / se, n - 1))
    half = stats.t.ppf(1 - alpha, n - 1) * se
    result = st.tost(d, delta=delta, alpha=alpha)
    assert result.n == n
    assert result.mean == pytest.approx(mean, rel=1e-12)
    assert result.std_error == pytest.approx(se, rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert (result.ci_low, result.ci_high) == (pytest.approx(mean - half, rel=1e-9),
                                               pytest.approx(mean + half, rel=1e-9))
    assert (result.delta, result.alpha) == (delta, alpha)
    assert result.passed == (p < alpha)


def test_tost_on_one_or_constant_differences_decides_on_the_margin_alone():
    """One difference (no spread to estimate) or identical ones: p 0 strictly inside the margin, 1 on
    it or beyond; the interval collapses to the mean."""
    inside = st.tost(np.array([4e-6]), delta=1e-5)
    assert (inside.n, inside.mean, inside.std_error, inside.ci_low, inside.ci_high, inside.p_value) == (
        1, 4e-6, 0.0, 4e-6, 4e-6, 0.0)
    assert st.tost(np.array([1e-5]), delta=1e-5).p_value == 1.0
    assert st.tost(np.full(3, -1e-5), delta=1e-5).p_value == 1.0
    assert st.tost(np.full(3, -9e-6), delta=1e-5).p_value == 0.0


def test_tost_with_no_or_non_finite_differences_fails_with_an_unbounded_interval():
    empty = st.tost(np.array([]))
    assert (empty.n, empty.p_value, empty.passed) == (0, 1.0, False)
    assert np.isnan(empty.mean)
    broken = st.tost(np.array([0.0, np.inf]))
    assert (broken.n, broken.mean, broken.std_error, broken.ci_low, broken.ci_high, broken.p_value) == (
        2, np.inf, np.inf, -np.inf, np.inf, 1.0)


def test_scaled_differences_use_the_scale_given_not_the_old_value():
    """A residual (hedged P&L) is measured against its exposure: d = (new - old) / (scale + atol/rtol)."""
    old, new, scale = np.array([0.1, -2.0]), np.array([0.2, -1.0]), np.array([1_000.0, -4_000.0])
    d = st.scaled_differences(old, new, atol=1e-3, rtol=1e-5, scale=scale)
    np.testing.assert_allclose(d, [0.1 / (1_000.0 + 100.0), 1.0 / (4_000.0 + 100.0)], rtol=1e-12)
    plain = st.scaled_differences(old, new, atol=1e-3, rtol=1e-5)
    np.testing.assert_allclose(plain, [0.1 / (0.1 + 100.0), 1.0 / (2.0 + 100.0)], rtol=1e-12)


def test_tolerance_is_inclusive_at_the_limit_and_counts_each_scenario_beyond():
    old, new = np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.5, np.nan])
    d = np.array([1e-5, np.nextafter(1e-5, 1.0), 2e-5])
    result = st.tolerance(old, new, d, rtol=1e-5)
    assert (result.n, result.failures, result.max_rel, result.max_abs) == (3, 2, 2e-5, 0.5)
    assert st.tolerance(old[:1], new[:1], d[:1], rtol=1e-5).failures == 0


def test_tolerance_of_nothing_or_only_missing_values():
    """No scenarios: nothing measured, not a pass. Only NaN differences: the largest is infinite."""
    empty = st.tolerance(np.array([]), np.array([]), np.array([]))
    assert (empty.n, empty.failures, empty.max_rel, empty.p99_rel, empty.max_abs) == (0, 0, 0.0, 0.0, 0.0)
    assert not empty.passed
    missing = st.tolerance(np.array([1.0]), np.array([np.nan]), np.array([np.inf]))
    assert (missing.max_abs, missing.failures) == (np.inf, 1)


def test_tost_on_two_differences_estimates_their_spread():
    """Two differences already have a sample deviation: TOST uses it (one degree of freedom) rather
    than deciding on the margin alone, so a spread this wide is not shown equivalent."""
    from scipy import stats

    d = np.array([0.0, 8e-6])
    se = np.std(d, ddof=1) / np.sqrt(2)
    expected = max(stats.t.sf((4e-6 + 1e-5) / se, 1), stats.t.cdf((4e-6 - 1e-5) / se, 1))
    result = st.tost(d, delta=1e-5, alpha=0.05)
    assert result.std_error == pytest.approx(4e-6, rel=1e-12)
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    assert not result.passed
