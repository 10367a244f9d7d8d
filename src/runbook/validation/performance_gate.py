"""A sequential gate on a candidate/legacy ratio (latency, peak memory) that holds on a busy machine.

Each round measures both engines back to back, in alternating order, so load that hits the machine
during a round hits both; the round's ratio is candidate / legacy. The verdict comes from a
confidence interval of the trimmed-mean ratio (robust to a burst of load that spoils a few rounds),
widened by a materiality margin that allows for the systematic error a paired measurement keeps
(call order, warm caches):

- FAIL when the whole widened interval lies above the limit,
- PASS when it lies below,
- otherwise more rounds, ``step`` at a time, up to ``max_rounds``; then INCONCLUSIVE, which is not a
  pass: a human decides with the figures.

The interval is recomputed at every look (every ``step`` rounds). A false FAIL needs the whole
interval above the limit, far from a ratio of 1, so repeated looks cost little there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

Sample = Callable[[Callable[[], object]], float]  # measures one call: seconds, bytes, ...


class Outcome(StrEnum):
    """The gate's three outcomes."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Limit on the ratio, materiality margin (relative), confidence per look, round budget."""

    limit: float
    margin: float = 0.01
    confidence: float = 0.95
    min_rounds: int = 10
    step: int = 10
    max_rounds: int = 100


@dataclass(frozen=True, slots=True)
class GateResult:
    """The outcome, the trimmed-mean ratio and its widened interval, and every paired measurement."""

    outcome: Outcome
    ratio: float
    low: float
    high: float
    rounds: int
    policy: GatePolicy
    legacy: tuple[float, ...]
    candidate: tuple[float, ...]

    def describe(self, what: str, unit: Callable[[float], str]) -> str:
        """One line with the verdict's figures."""
        return (
            f"candidate/legacy {what} {self.ratio:.2f}x, {self.policy.confidence:.0%} interval "
            f"[{self.low:.2f}, {self.high:.2f}] incl. +-{self.policy.margin:.0%} margin, "
            f"{self.rounds} paired rounds (budget {self.policy.max_rounds}); "
            f"median {unit(float(np.median(self.legacy)))} -> {unit(float(np.median(self.candidate)))}; "
            f"limit {self.policy.limit:.2f}x: {self.outcome.value.upper()}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "ratio": self.ratio,
            "interval_low": self.low,
            "interval_high": self.high,
            "rounds": self.rounds,
            "limit": self.policy.limit,
            "margin": self.policy.margin,
            "confidence": self.policy.confidence,
            "max_rounds": self.policy.max_rounds,
        }


TRIM = 0.2  # share of rounds trimmed from each end: bursts of load spoil a few rounds, not the verdict


def ratio_interval(ratios: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Trimmed-mean ratio and its two-sided interval (Yuen: 20%-trimmed mean of log ratios).

    Log ratios make 2x faster and 2x slower symmetric; trimming keeps the efficiency of a mean on
    quiet rounds and the robustness of a median on a burst. The standard error is the winsorized
    standard deviation / ((1 - 2 TRIM) sqrt(n)), Student t with n - 2g - 1 degrees of freedom.
    Identical values (a deterministic measure) are their own interval; fewer than 3 kept values
    give (0, inf).
    """
    x = np.sort(np.log(np.asarray(ratios, float)))
    n = x.size
    g = int(np.floor(TRIM * n))
    kept = x[g : n - g]
    centre = float(kept.mean())
    if x[0] == x[-1]:
        return float(np.exp(centre)), float(np.exp(centre)), float(np.exp(centre))
    if kept.size < 3:
        return float(np.exp(centre)), 0.0, float("inf")
    winsorized = np.clip(x, kept[0], kept[-1])
    se = winsorized.std(ddof=1) / ((1.0 - 2.0 * g / n) * np.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, kept.size - 1)) * se
    return float(np.exp(centre)), float(np.exp(centre - half)), float(np.exp(centre + half))


def decide(legacy: list[float], candidate: list[float], policy: GatePolicy) -> GateResult:
    """The verdict of the rounds so far (INCONCLUSIVE when the interval straddles the limit)."""
    old, new = np.asarray(legacy, float), np.asarray(candidate, float)
    ratio, low, high = ratio_interval(new / np.maximum(old, 1e-300), policy.confidence)
    low, high = low / (1.0 + policy.margin), high * (1.0 + policy.margin)
    if low > policy.limit:
        outcome = Outcome.FAIL
    elif high < policy.limit:
        outcome = Outcome.PASS
    else:
        outcome = Outcome.INCONCLUSIVE
    return GateResult(outcome, ratio, low, high, old.size, policy, tuple(legacy), tuple(candidate))


def run_gate(
    legacy: Callable[[], object], candidate: Callable[[], object], sample: Sample, policy: GatePolicy
) -> GateResult:
    """Paired rounds (order alternating) until the interval clears the limit or the budget is spent."""
    old: list[float] = []
    new: list[float] = []
    target = policy.min_rounds
    while True:
        while len(old) < target:
            pair = [("legacy", legacy), ("candidate", candidate)]
            for name, call in pair[:: 1 if len(old) % 2 == 0 else -1]:
                (old if name == "legacy" else new).append(sample(call))
        result = decide(old, new, policy)
        if result.outcome is not Outcome.INCONCLUSIVE or target >= policy.max_rounds:
            return result
        target = min(target + policy.step, policy.max_rounds)
