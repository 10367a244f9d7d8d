"""Monte Carlo engines that cannot share random numbers: the margin comes from legacy's own noise.

Under common random numbers both engines see the same draws and agree to the ADR's 0.001%. An
engine that draws its own numbers cannot; its VaR differs from legacy's by Monte Carlo noise alone.
As Diffy does with two controls, legacy is run against itself with different seeds: the spread of
legacy's estimates over ``seeds`` runs measures the estimator's noise (sd). The candidate runs on
as many other seeds; it passes when the difference of the two means lies within ``k`` standard
errors of that difference (k sd sqrt(2 / m)), the margin stated in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runbook.engines.requests import VaRMethod, VaRRequest
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.portfolios import PORTFOLIOS, Portfolio
from runbook.validation.report import Check

NOISE_SEEDS = 8  # legacy runs (two controls or more) and as many candidate runs
NOISE_K = 4.0  # standard errors of the difference of means: the margin
NOISE_PATHS = 20_000

Estimate = Callable[[object, int], dict[str, float]]


@dataclass(frozen=True, slots=True)
class NoiseComparison:
    """Per metric: legacy and candidate means, legacy's noise (sd) and the margin."""

    metric: str
    legacy_mean: float
    candidate_mean: float
    legacy_sd: float
    margin: float

    @property
    def passed(self) -> bool:
        return abs(self.candidate_mean - self.legacy_mean) <= self.margin


def compare_without_crn(
    estimate: Estimate, legacy: object, candidate: object, *, seed: int = 0, seeds: int = NOISE_SEEDS
) -> list[NoiseComparison]:
    """Legacy on seeds seed..seed+m-1, the candidate on the next m; compare means against the noise."""
    old = [estimate(legacy, seed + i) for i in range(seeds)]
    new = [estimate(candidate, seed + seeds + i) for i in range(seeds)]
    rows = []
    for metric in old[0]:
        a = np.array([o[metric] for o in old])
        b = np.array([n[metric] for n in new])
        sd = float(a.std(ddof=1))
        rows.append(
            NoiseComparison(metric, float(a.mean()), float(b.mean()), sd, NOISE_K * sd * np.sqrt(2.0 / seeds))
        )
    return rows


def mc_request_estimate(returns: np.ndarray, portfolio: Portfolio, paths: int = NOISE_PATHS) -> Estimate:
    """VaR and ES of one Monte Carlo request (the engine draws its own numbers from ``seed``)."""

    def estimate(engine: object, seed: int) -> dict[str, float]:
        request = VaRRequest(
            returns=returns,
            weights=np.array(portfolio.weights),
            notional=portfolio.notional,
            confidence=portfolio.confidence,
            horizon_days=portfolio.horizon_days,
            method=VaRMethod.MONTE_CARLO,
            mc_paths=paths,
            seed=seed,
        )
        result = engine.calculate_var_sync(request)  # type: ignore[attr-defined]
        return {"var": result.var, "es": result.es}

    return estimate


def var_noise_check(
    history: MarketHistory,
    legacy: object,
    candidate: object,
    *,
    seed: int,
    portfolio: Portfolio = PORTFOLIOS[0],
) -> Check:
    """The noise-calibrated check of one portfolio's Monte Carlo VaR / ES over the latest 250 days."""
    estimate = mc_request_estimate(history.complete().log_returns()[-250:], portfolio)
    return noise_check(compare_without_crn(estimate, legacy, candidate, seed=seed))


def noise_check(rows: list[NoiseComparison]) -> Check:
    """The comparison as a gating check stating legacy's noise and the margin."""
    failing = [r for r in rows if not r.passed]
    parts = [
        f"{r.metric} {r.legacy_mean:.6g} -> {r.candidate_mean:.6g} (legacy sd {r.legacy_sd:.3g}, "
        f"margin {r.margin:.3g})"
        for r in rows
    ]
    return Check(
        "monte_carlo_noise_calibrated",
        bool(rows) and not failing,
        f"no common random numbers: means over {NOISE_SEEDS} seeds each, margin {NOISE_K:g} standard "
        f"errors of legacy-vs-legacy noise; " + "; ".join(parts),
        {"rows": [_row(r) for r in rows], "k": NOISE_K},
    )


def _row(row: NoiseComparison) -> dict[str, object]:
    return {
        "metric": row.metric,
        "legacy_mean": row.legacy_mean,
        "candidate_mean": row.candidate_mean,
        "legacy_sd": row.legacy_sd,
        "margin": row.margin,
        "passed": row.passed,
    }
