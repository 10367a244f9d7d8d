"""Hedge effectiveness as the monitor measures it: variance reduction of the returned hedge ratio."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring import CheckStatus, EffectivenessSample, hedge_effectiveness
from runbook.monitoring._effectiveness import _measure, check_hedge_effectiveness


def correlated_returns(rho: float, n: int = 2_000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Futures returns (sigma 1.0%) and spot returns (sigma 1.2%) at correlation ``rho`` (Hull)."""
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    futures = 0.010 * z1
    spot = 0.012 * (rho * z1 + math.sqrt(1 - rho**2) * z2)
    return spot, futures


def minimum_variance_ratio(spot: np.ndarray, futures: np.ndarray) -> float:
    return float(np.cov(spot, futures)[0, 1] / np.var(futures, ddof=1))


def test_minimum_variance_hedge_effectiveness_is_rho_squared() -> None:
    """At the minimum-variance ratio, effectiveness equals the squared sample correlation (Hull: 0.64
    at rho 0.8)."""
    spot, futures = correlated_returns(0.8)
    value = hedge_effectiveness(spot.tolist(), futures.tolist(), minimum_variance_ratio(spot, futures))
    assert value == pytest.approx(float(np.corrcoef(spot, futures)[0, 1] ** 2), rel=1e-10)
    assert value == pytest.approx(0.64, abs=0.03)


@pytest.mark.parametrize("error", [0.05, 0.22, -0.22, 0.5])
def test_a_ratio_off_by_e_keeps_one_minus_e_squared(error: float) -> None:
    """A hedge ratio off by a fraction e keeps 1 - e^2 of the optimum's effectiveness (22% -> 0.95)."""
    spot, futures = correlated_returns(0.8)
    best = minimum_variance_ratio(spot, futures)
    optimum = hedge_effectiveness(spot.tolist(), futures.tolist(), best)
    off = hedge_effectiveness(spot.tolist(), futures.tolist(), best * (1 + error))
    assert off / optimum == pytest.approx(1 - error**2, rel=1e-9)


def test_undefined_effectiveness_is_nan() -> None:
    """Constant spot returns, mismatched lengths or a non-finite ratio give NaN, never a number."""
    assert math.isnan(hedge_effectiveness([0.01, 0.01, 0.01], [0.02, -0.01, 0.0], 1.0))
    assert math.isnan(hedge_effectiveness([0.01, 0.02], [0.01], 1.0))
    assert math.isnan(hedge_effectiveness([0.01, 0.02, 0.0], [0.01, 0.0, 0.02], math.inf))


@dataclass(frozen=True)
class _Request:
    spot_returns: np.ndarray
    futures_returns: np.ndarray


@dataclass(frozen=True)
class _Result:
    hedge_ratio: float
    effectiveness: float = 1.0  # a self-report the monitor must not trust


def test_the_monitor_measures_the_ratio_not_the_self_report() -> None:
    """Effectiveness is recomputed from the returned ratio; an engine's claimed effectiveness is ignored."""
    spot, futures = correlated_returns(0.8, n=250)
    request = _Request(spot, futures)
    best = minimum_variance_ratio(spot, futures)
    measured, error = _measure(lambda _r: _Result(hedge_ratio=0.5 * best), request)
    assert error == ""
    assert measured is not None
    assert measured < 0.8 * float(np.corrcoef(spot, futures)[0, 1] ** 2)


def test_a_failing_engine_is_not_measured_and_says_why() -> None:
    """An engine that raises gives no measurement but the error that prevented it."""

    def broken(_request: object) -> _Result:
        raise RuntimeError("boom")

    spot, futures = correlated_returns(0.8, n=50)
    assert _measure(broken, _Request(spot, futures)) == (None, "RuntimeError: boom")
    value, error = _measure(lambda _r: _Result(hedge_ratio=math.nan), _Request(spot, futures))
    assert value is None
    assert "non-finite" in error


def test_a_candidate_crash_in_the_probe_fails_the_check_as_an_error() -> None:
    """One candidate crash among good hedges fails the check as an error, not as a slightly worse hedge."""
    samples = [EffectivenessSample(candidate=0.6, legacy=0.6)] * 199
    crashed = [*samples, EffectivenessSample(candidate=0.0, legacy=0.6, candidate_error="ValueError: x")]
    thresholds = RollbackThresholds()
    assert check_hedge_effectiveness(samples, None, thresholds, min_samples=100).status is CheckStatus.PASS
    check = check_hedge_effectiveness(crashed, None, thresholds, min_samples=100)
    assert check.status is CheckStatus.FAIL
    assert check.evidence["hedge_effectiveness.candidate_errors"] == 1
    assert "ValueError: x" in check.reason
