"""Exact binomial bounds of the monitor, checked against scipy (an independent implementation)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from runbook.monitoring._binomial import (
    binomial_cdf,
    binomial_sf,
    lower_bound,
    regularized_beta,
    trials_needed,
    upper_bound,
)

CASES = [
    (0, 1),
    (1, 1),
    (0, 50),
    (1, 50),
    (2, 50),
    (0, 200),
    (3, 200),
    (0, 4603),
    (5, 4603),
    (20, 20_000),
    (60, 20_000),
    (1000, 2000),
    (99_000, 100_000),
]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("confidence", [0.5, 0.95, 0.99, 0.999])
def test_bounds_are_clopper_pearson_beta_quantiles(k: int, n: int, confidence: float) -> None:
    """One-sided lower/upper bounds equal scipy's Beta quantiles (Clopper-Pearson) to 1e-8 relative."""
    expected_lower = 0.0 if k == 0 else stats.beta.ppf(1 - confidence, k, n - k + 1)
    expected_upper = 1.0 if k == n else stats.beta.ppf(confidence, k + 1, n - k)
    assert lower_bound(k, n, confidence) == pytest.approx(expected_lower, rel=1e-8, abs=1e-300)
    assert upper_bound(k, n, confidence) == pytest.approx(expected_upper, rel=1e-8)


@pytest.mark.parametrize(("k", "n"), CASES)
def test_two_sided_interval_matches_binomtest_exact(k: int, n: int) -> None:
    """Two one-sided 97.5% bounds form scipy.stats.binomtest's exact 95% interval."""
    interval = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert lower_bound(k, n, 0.975) == pytest.approx(interval.low, rel=1e-7, abs=1e-300)
    assert upper_bound(k, n, 0.975) == pytest.approx(interval.high, rel=1e-7)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.3), (3, 10, 0.3), (7, 50, 0.1), (20, 20_000, 0.001)])
def test_tails_match_scipy_binomial(k: int, n: int, p: float) -> None:
    """P(X <= k) and P(X >= k) equal scipy's binomial cdf and survival function."""
    assert binomial_cdf(k, n, p) == pytest.approx(stats.binom.cdf(k, n, p), rel=1e-9)
    assert binomial_sf(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), rel=1e-9)


def test_regularized_beta_matches_scipy() -> None:
    """I_x(a, b) agrees with scipy.special.betainc across both branches of the continued fraction."""
    from scipy.special import betainc

    for a, b, x in [(0.5, 0.5, 0.2), (2.0, 3.0, 0.9), (50.0, 4000.0, 0.01), (1.0, 1.0, 0.5)]:
        assert regularized_beta(a, b, x) == pytest.approx(betainc(a, b, x), rel=1e-10)


def test_trials_needed_without_events_is_the_closed_form() -> None:
    """With no event, the passing count is ceil(ln(1 - c) / ln(1 - rate)): 4,603 at 0.1% and 99%."""
    for rate, confidence in [(0.001, 0.99), (0.001, 0.95), (0.01, 0.99), (0.001, 0.5)]:
        expected = math.ceil(math.log(1 - confidence) / math.log(1 - rate))
        assert trials_needed(0, rate, confidence) == expected


def test_trials_needed_is_the_first_passing_count() -> None:
    """With events, the count returned passes and one fewer does not (checked with scipy's bound)."""
    needed = trials_needed(3, 0.001, 0.99)
    assert stats.beta.ppf(0.99, 4, needed - 3) < 0.001
    assert stats.beta.ppf(0.99, 4, needed - 1 - 3) >= 0.001


def test_bounds_reject_impossible_counts() -> None:
    """More events than trials, or a confidence outside (0, 1), is refused with the values named."""
    with pytest.raises(ValueError, match="5 of 3"):
        upper_bound(5, 3, 0.99)
    with pytest.raises(ValueError, match="confidence"):
        lower_bound(1, 3, 1.0)


def test_regularized_beta_at_the_ends_of_the_interval() -> None:
    """I_0 = 0 and I_1 = 1 exactly, and each branch of the continued fraction near its switch point
    (x = (a+1)/(a+b+2)) still agrees with scipy."""
    from scipy.special import betainc

    assert regularized_beta(2.0, 3.0, 0.0) == 0.0
    assert regularized_beta(2.0, 3.0, 1.0) == 1.0
    for a, b in [(2.0, 3.0), (0.5, 7.0), (30.0, 2.0)]:
        switch = (a + 1.0) / (a + b + 2.0)
        for x in (switch * 0.999, switch, switch * 1.001, 0.999999, 1e-9):
            assert regularized_beta(a, b, x) == pytest.approx(betainc(a, b, x), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (0, 5), (5, 5), (6, 5), (0, 0)])
def test_tails_at_the_edges_of_the_count(k: int, n: int) -> None:
    """Counts at or beyond either end give scipy's exact 0 and 1, never a value past them."""
    p = 0.3
    assert binomial_cdf(k, n, p) == pytest.approx(stats.binom.cdf(k, n, p), abs=1e-15)
    assert binomial_sf(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), abs=1e-15)


def test_no_trials_have_the_whole_interval_as_bounds() -> None:
    """Zero events in zero calls says nothing: the bounds are 0 and 1, and asking is not an error."""
    assert lower_bound(0, 0, 0.99) == 0.0
    assert upper_bound(0, 0, 0.99) == 1.0
    with pytest.raises(ValueError, match="1 of 0"):
        upper_bound(1, 0, 0.99)
    with pytest.raises(ValueError, match="-1 of 4"):
        lower_bound(-1, 4, 0.99)
    with pytest.raises(ValueError, match=r"confidence 0\.0"):
        upper_bound(1, 4, 0.0)


@pytest.mark.parametrize("rate", [0.0, 1.0, 1.5, -0.1])
def test_trials_needed_refuses_a_rate_outside_the_open_interval(rate: float) -> None:
    with pytest.raises(ValueError, match=f"rate {rate!r} is outside"):
        trials_needed(0, rate, 0.99)


@pytest.mark.parametrize(("k", "rate", "confidence"), [
    (0, 0.9, 0.5), (1, 0.8, 0.5), (0, 0.5, 0.9), (1, 0.5, 0.9), (2, 0.3, 0.95), (4, 0.2, 0.99),
    (0, 0.05, 0.95), (3, 0.05, 0.8),
])
def test_trials_needed_is_scipys_first_passing_count(k: int, rate: float, confidence: float) -> None:
    """The fewest calls whose exact upper bound is below ``rate``, found by scanning every count with
    scipy's Beta quantile (n = k is never enough: its upper bound is 1)."""
    expected = next(n for n in range(k + 1, 10_000) if stats.beta.ppf(confidence, k + 1, n - k) < rate)
    assert trials_needed(k, rate, confidence) == expected
