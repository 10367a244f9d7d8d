"""Equivalence statistics for deterministic engines that should agree (DESIGN.md section 6).

Differences are scaled so that the ADR's tolerance is one number: ``d = (new - old) / (scale +
atol / rtol)``, scale = |old| unless the metric is a residual (see ``scales``); a scenario is within
tolerance when ``|d| <= rtol``, i.e. ``|new - old| <= rtol * scale + atol``. Equivalence is decided
by TOST on ``d`` (margin ``delta``, ``alpha`` per side); Wilcoxon, KS and a bootstrap CI are
diagnostics beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

RTOL = 1e-5
DELTA = 1e-5
ALPHA = 0.0005
BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_MAX_N = 100_000


def scaled_differences(
    old: np.ndarray,
    new: np.ndarray,
    *,
    atol: float,
    rtol: float = RTOL,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """(new - old) / (scale + atol / rtol), scale = |old| unless given; 0 where both are NaN, inf
    where only one is."""
    old, new = np.asarray(old, float), np.asarray(new, float)
    size = np.abs(old) if scale is None else np.abs(np.asarray(scale, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (new - old) / (size + atol / rtol)
    both_nan = np.isnan(old) & np.isnan(new)
    one_nan = np.isnan(old) ^ np.isnan(new)
    d[both_nan] = 0.0
    d[one_nan] = np.inf
    return d


@dataclass(frozen=True, slots=True)
class ToleranceResult:
    """Per-scenario tolerance: how many scenarios fail, max and p99 of |d|, max |new - old|."""

    n: int
    failures: int
    max_rel: float
    p99_rel: float
    max_abs: float

    @property
    def passed(self) -> bool:
        return self.n > 0 and self.failures == 0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def tolerance(old: np.ndarray, new: np.ndarray, d: np.ndarray, *, rtol: float = RTOL) -> ToleranceResult:
    """Tolerance summary of scaled differences ``d`` (see ``scaled_differences``)."""
    magnitude = np.abs(d)
    if magnitude.size == 0:
        return ToleranceResult(0, 0, 0.0, 0.0, 0.0)
    with np.errstate(invalid="ignore"):
        abs_diff = np.abs(np.asarray(new, float) - np.asarray(old, float))
    return ToleranceResult(
        n=int(d.size),
        failures=int((~(magnitude <= rtol)).sum()),
        max_rel=float(magnitude.max()),
        p99_rel=float(np.quantile(magnitude, 0.99, method="linear")),
        max_abs=float(np.nanmax(abs_diff)) if np.isfinite(abs_diff).any() else float("inf"),
    )


@dataclass(frozen=True, slots=True)
class TostResult:
    """Two one-sided tests of |mean d| < delta: p = max of the two one-sided p-values.

    ``ci_low`` / ``ci_high`` is the (1 - 2 alpha) confidence interval of the mean; equivalence
    holds when it lies inside (-delta, +delta), i.e. when p < alpha.
    """

    n: int
    mean: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    delta: float
    alpha: float

    @property
    def passed(self) -> bool:
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def tost(d: np.ndarray, *, delta: float = DELTA, alpha: float = ALPHA) -> TostResult:
    """TOST on scaled differences; zero variance gives p = 0 inside the margin, 1 outside (never NaN)."""
    d = np.asarray(d, float)
    n = d.size
    if n == 0 or not np.isfinite(d).all():
        return TostResult(
            n, float("nan") if n == 0 else float(np.inf), float("inf"), -np.inf, np.inf, 1.0, delta, alpha
        )
    mean = float(d.mean())
    std_error = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    if std_error == 0.0 or not np.isfinite(std_error):
        p = 0.0 if abs(mean) < delta else 1.0
        return TostResult(n, mean, 0.0, mean, mean, p, delta, alpha)
    df = n - 1
    p_lower = stats.t.sf((mean + delta) / std_error, df)
    p_upper = stats.t.cdf((mean - delta) / std_error, df)
    half_width = stats.t.ppf(1.0 - alpha, df) * std_error
    return TostResult(
        n, mean, std_error, mean - half_width, mean + half_width, float(max(p_lower, p_upper)), delta, alpha
    )


def wilcoxon_p(old: np.ndarray, new: np.ndarray) -> float:
    """Wilcoxon signed-rank p-value of new - old (1.0 when every difference is zero)."""
    diff = np.asarray(new, float) - np.asarray(old, float)
    diff = diff[np.isfinite(diff) & (diff != 0.0)]
    if diff.size < 10:
        return 1.0
    return float(stats.wilcoxon(diff, zero_method="wilcox", method="approx").pvalue)


def ks_p(old: np.ndarray, new: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov p-value of the two output distributions."""
    old, new = np.asarray(old, float), np.asarray(new, float)
    old, new = old[np.isfinite(old)], new[np.isfinite(new)]
    if old.size == 0 or new.size == 0:
        return float("nan")
    return float(stats.ks_2samp(old, new, method="asymp").pvalue)


def bootstrap_mean_ci(
    d: np.ndarray, *, confidence: float = 1.0 - 2 * ALPHA, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of mean d (on a seeded subsample of BOOTSTRAP_MAX_N when larger)."""
    d = np.asarray(d, float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if d.size > BOOTSTRAP_MAX_N:
        d = rng.choice(d, BOOTSTRAP_MAX_N, replace=False)
    means = np.array([d[rng.integers(0, d.size, d.size)].mean() for _ in range(resamples)])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], method="linear")
    return float(low), float(high)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1)."""
    p = np.asarray(p_values, float)
    if p.size == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out
