"""VaR backtests: Kupiec POF, Christoffersen independence and conditional coverage, Basel traffic light."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
from scipy import stats
from scipy.special import xlogy

# Basel Committee (1996) plus factors for 250 observations at 99%, by exception count 5..9.
_PLUS_FACTORS = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}


class Zone(StrEnum):
    """Basel traffic-light zone; order by ``rank``."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        return ("green", "yellow", "red").index(self.value)


@dataclass(frozen=True, slots=True)
class TestResult:
    """A likelihood-ratio statistic and its chi-square p-value."""

    statistic: float
    p_value: float


def kupiec_pof(observations: int, exceptions: int, confidence: float) -> TestResult:
    """Kupiec proportion-of-failures LR test (chi-square, 1 df) of an exception count."""
    p = 1.0 - confidence
    n, x = observations, exceptions
    rate = x / n
    null = xlogy(n - x, 1.0 - p) + xlogy(x, p)
    alternative = xlogy(n - x, 1.0 - rate) + xlogy(x, rate)
    lr = max(-2.0 * (null - alternative), 0.0)
    return TestResult(float(lr), float(stats.chi2.sf(lr, 1)))


def christoffersen_independence(hits: np.ndarray) -> TestResult:
    """Christoffersen LR test (1 df) that an exception does not make the next one more likely."""
    hits = np.asarray(hits, dtype=bool)
    previous, current = hits[:-1], hits[1:]
    n00 = int((~previous & ~current).sum())
    n01 = int((~previous & current).sum())
    n10 = int((previous & ~current).sum())
    n11 = int((previous & current).sum())
    pi01 = n01 / max(n00 + n01, 1)
    pi11 = n11 / max(n10 + n11, 1)
    pi = (n01 + n11) / max(n00 + n01 + n10 + n11, 1)
    null = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    alternative = xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11) + xlogy(n11, pi11)
    lr = max(-2.0 * (null - alternative), 0.0)
    return TestResult(float(lr), float(stats.chi2.sf(lr, 1)))


def christoffersen_conditional_coverage(hits: np.ndarray, confidence: float) -> TestResult:
    """Conditional coverage: POF + independence, chi-square with 2 df."""
    hits = np.asarray(hits, dtype=bool)
    lr = (
        kupiec_pof(hits.size, int(hits.sum()), confidence).statistic
        + christoffersen_independence(hits).statistic
    )
    return TestResult(float(lr), float(stats.chi2.sf(lr, 2)))


@dataclass(frozen=True, slots=True)
class TrafficLight:
    """Zone, cumulative binomial probability of the count, and the Basel plus factor."""

    exceptions: int
    observations: int
    cumulative_probability: float
    zone: Zone
    plus_factor: float


def traffic_light(exceptions: int, *, observations: int = 250, confidence: float = 0.99) -> TrafficLight:
    """Basel traffic light: green below 95% cumulative probability, red from 99.99%."""
    cumulative = float(stats.binom.cdf(exceptions, observations, 1.0 - confidence))
    zone = Zone.GREEN if cumulative < 0.95 else Zone.YELLOW if cumulative < 0.9999 else Zone.RED
    if zone is Zone.GREEN:
        plus = 0.0
    elif zone is Zone.RED:
        plus = 1.0
    else:
        plus = _PLUS_FACTORS.get(exceptions, 0.85) if observations == 250 else float("nan")
    return TrafficLight(exceptions, observations, cumulative, zone, plus)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """One engine's backtest on real data."""

    observations: int
    exceptions: int
    confidence: float
    kupiec: TestResult
    independence: TestResult
    conditional_coverage: TestResult
    traffic_light: TrafficLight

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["traffic_light"]["zone"] = self.traffic_light.zone.value
        return out


def backtest(
    losses: np.ndarray, var: np.ndarray, *, confidence: float, zone_window: int = 250
) -> BacktestResult:
    """Exceptions (loss > VaR) over the sample; traffic light on the last ``zone_window``."""
    hits = np.asarray(losses, float) > np.asarray(var, float)
    recent = hits[-zone_window:]
    return BacktestResult(
        observations=int(hits.size),
        exceptions=int(hits.sum()),
        confidence=confidence,
        kupiec=kupiec_pof(hits.size, int(hits.sum()), confidence),
        independence=christoffersen_independence(hits),
        conditional_coverage=christoffersen_conditional_coverage(hits, confidence),
        traffic_light=traffic_light(int(recent.sum()), observations=recent.size, confidence=confidence),
    )
