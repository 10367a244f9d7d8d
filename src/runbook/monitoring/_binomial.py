"""Exact (Clopper-Pearson) one-sided bounds of a binomial proportion, in pure Python.

The monitor decides on counts ("k errors in n calls"), so its bounds must be exact at small n:
a normal approximation calls 1 error in 50 calls a 2% +- 4% rate and decides blindly. The bounds
are the quantiles of the beta distribution, found by bisection on the regularized incomplete beta
function (Lentz's continued fraction). No scipy import: ``runbook.monitoring`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable

_TINY = 1e-300
_EPS = 1e-15


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, _nonzero(1.0 - qab * x / qap)
    d = 1.0 / d
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        even = m * (b - m) * x / ((qam + m2) * (a + m2))
        odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        for numerator in (even, odd):
            d = 1.0 / _nonzero(1.0 + numerator * d)
            c = _nonzero(1.0 + numerator / c)
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _nonzero(value: float) -> float:
    return value if abs(value) > _TINY else _TINY


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the CDF at ``x`` of a Beta(a, b) distribution (a, b > 0, 0 <= x <= 1)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def binomial_sf(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    return regularized_beta(successes, trials - successes + 1, p)


def binomial_cdf(successes: int, trials: int, p: float) -> float:
    """P(X <= successes) for X ~ Binomial(trials, p)."""
    if successes >= trials:
        return 1.0
    if successes < 0:
        return 0.0
    return regularized_beta(trials - successes, successes + 1, 1.0 - p)


def _bisect_increasing(function: Callable[[float], float], target: float) -> float:
    """The p in [0, 1] where the increasing ``function(p)`` crosses ``target``."""
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if function(middle) < target:
            low = middle
        else:
            high = middle
        if high - low <= 1e-13 * high:
            break
    return 0.5 * (low + high)


def _check(successes: int, trials: int, confidence: float) -> None:
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence!r} is outside (0, 1)")


def lower_bound(successes: int, trials: int, confidence: float) -> float:
    """One-sided exact lower bound of the proportion: P(X >= successes | p=bound) = 1 - confidence.

    0 when there are no successes. Equals the Beta(k, n-k+1) quantile at 1 - confidence.
    """
    _check(successes, trials, confidence)
    if successes == 0:
        return 0.0
    return _bisect_increasing(lambda p: binomial_sf(successes, trials, p), 1.0 - confidence)


def upper_bound(successes: int, trials: int, confidence: float) -> float:
    """One-sided exact upper bound of the proportion: P(X <= successes | p=bound) = 1 - confidence.

    1 when every trial succeeded (or there are none). Equals the Beta(k+1, n-k) quantile at confidence.
    """
    _check(successes, trials, confidence)
    if successes >= trials:
        return 1.0
    return _bisect_increasing(lambda p: 1.0 - binomial_cdf(successes, trials, p), confidence)


def trials_needed(successes: int, rate: float, confidence: float) -> int:
    """Fewest trials with ``successes`` events whose upper bound is below ``rate``.

    With no events this is ln(1 - confidence) / ln(1 - rate) rounded up: 4,603 calls for a 0.1%
    rate at 99% confidence. The search is monotone in the number of trials.
    """
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate {rate!r} is outside (0, 1)")
    low = max(successes + 1, 1)
    high = low
    while upper_bound(successes, high, confidence) >= rate:
        low, high = high + 1, high * 2
    while low < high:
        middle = (low + high) // 2
        if upper_bound(successes, middle, confidence) < rate:
            high = middle
        else:
            low = middle + 1
    return high
