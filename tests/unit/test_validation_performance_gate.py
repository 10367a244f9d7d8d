"""The sequential performance gate, driven by an injected clock: PASS, FAIL, INCONCLUSIVE, budget."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from runbook.validation.performance import (
    MAX_LATENCY_RATIO,
    MAX_MEMORY_RATIO,
    PerformanceGate,
    compare_performance,
    peak_bytes,
    performance_checks,
    repeats_for,
)
from runbook.validation.performance_gate import GatePolicy, Outcome, decide, ratio_interval, run_gate


class FakeClock:
    """A clock that only moves when a fake engine 'works'."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def engine(clock: FakeClock, costs) -> object:
    """A zero-argument call that advances ``clock`` by the next of ``costs`` (seconds)."""
    stream = iter(costs)

    def call() -> None:
        clock.now += next(stream)

    return call


def _noisy(rng, base: float, size: int = 10_000, sigma: float = 0.15) -> np.ndarray:
    """Costs with multiplicative noise and 5% bursts that triple a measurement (a busy machine)."""
    burst = np.where(rng.random(size) < 0.05, 3.0, 1.0)
    return base * np.exp(rng.normal(0.0, sigma, size)) * burst


def _gate(clock: FakeClock, old_cost: float, new_cost: float, seed: int = 0, policy=None):
    rng = np.random.default_rng(seed)
    gate = PerformanceGate(clock=clock, min_measure_s=0.0)
    legacy = engine(clock, _noisy(rng, old_cost))
    candidate = engine(clock, _noisy(rng, new_cost))
    return compare_performance(legacy, candidate, scenarios=10, gate=gate).latency if policy is None else (
        run_gate(legacy, candidate, lambda call: _timed(clock, call), policy)
    )


def _timed(clock: FakeClock, call) -> float:
    started = clock()
    call()
    return clock() - started


def _outcomes(new_cost: float, seeds: int = 40) -> dict[Outcome, int]:
    outcomes = [_gate(FakeClock(), 0.01, new_cost, seed).outcome for seed in range(seeds)]
    return {o: outcomes.count(o) for o in Outcome}


def test_equal_engines_on_a_noisy_machine_never_fail():
    """Legacy against itself with 15% noise and 5% bursts of 3x: no FAIL in 40 runs, nearly all PASS."""
    outcomes = _outcomes(0.01)
    assert outcomes[Outcome.FAIL] == 0
    assert outcomes[Outcome.PASS] >= 38


def test_a_30_percent_slower_candidate_fails():
    """A candidate 1.3x slower under the same noise fails in >= 90% of runs, and never passes."""
    outcomes = _outcomes(0.013)
    assert outcomes[Outcome.FAIL] >= 36
    assert outcomes[Outcome.PASS] == 0


def test_a_candidate_at_the_limit_is_inconclusive_after_the_budget():
    """A ratio right at the limit cannot be decided: more rounds up to the budget, then INCONCLUSIVE."""
    policy = GatePolicy(limit=1.2, min_rounds=8, step=4, max_rounds=20)
    result = _gate(FakeClock(), 0.01, 0.012, 0, policy)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.rounds == 20
    assert result.low <= 1.2 <= result.high


def test_clear_cases_stop_at_the_first_look():
    """A clear verdict spends only ``min_rounds``; a straddling one takes ``step`` more at a time."""
    clock = FakeClock()
    policy = GatePolicy(limit=1.2, min_rounds=8, step=4, max_rounds=40)
    timed = lambda call: _timed(clock, call)  # noqa: E731
    fast = run_gate(engine(clock, [1.0] * 100), engine(clock, [0.5] * 100), timed, policy)
    assert (fast.outcome, fast.rounds) == (Outcome.PASS, 8)
    slow = run_gate(engine(clock, [1.0] * 100), engine(clock, [2.0] * 100), timed, policy)
    assert (slow.outcome, slow.rounds) == (Outcome.FAIL, 8)
    costs = iter(np.tile([1.0, 1.0, 1.0, 1.6], 100))
    mixed = run_gate(lambda: 1.0, lambda: next(costs), lambda call: call(), policy)
    assert mixed.rounds in range(12, 41, 4)


def test_rounds_alternate_the_order():
    """Odd rounds measure the candidate first, so a drifting load does not favour one side."""
    order: list[str] = []
    policy = GatePolicy(limit=1.2, min_rounds=4, max_rounds=4)
    run_gate(lambda: "legacy", lambda: "candidate", lambda c: order.append(c()) or 1.0, policy)
    assert order == ["legacy", "candidate", "candidate", "legacy"] * 2


def test_ratio_interval_is_yuens_trimmed_mean_interval_of_log_ratios():
    """Centre: 20%-trimmed mean of log ratios; half width: t * winsorized sd / (0.6 sqrt(n))."""
    logs = np.log(np.array([0.5, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.2, 1.3, 9.0]))
    ratio, low, high = ratio_interval(np.exp(logs), 0.95)
    kept = np.sort(logs)[2:8]
    winsorized = np.clip(logs, kept[0], kept[-1])
    half = stats.t.ppf(0.975, 5) * winsorized.std(ddof=1) / (0.6 * np.sqrt(10))
    assert ratio == pytest.approx(np.exp(kept.mean()), rel=1e-12)
    assert (low, high) == pytest.approx((np.exp(kept.mean() - half), np.exp(kept.mean() + half)), rel=1e-12)
    assert high < 1.3  # the 9x burst does not drag the interval up
    assert ratio_interval(np.array([1.0, 2.0]), 0.95) == (pytest.approx(np.sqrt(2.0)), 0.0, float("inf"))
    assert ratio_interval(np.full(3, 1.4), 0.99) == pytest.approx((1.4, 1.4, 1.4))


def test_margin_widens_the_interval_both_ways():
    """The materiality margin is applied on both sides: a ratio within it of the limit is undecided."""
    ones = [1.0] * 8
    assert decide(ones, [1.21] * 8, GatePolicy(1.2, margin=0.0)).outcome is Outcome.FAIL
    assert decide(ones, [1.21] * 8, GatePolicy(1.2, margin=0.02)).outcome is Outcome.INCONCLUSIVE
    assert decide(ones, [1.19] * 8, GatePolicy(1.2, margin=0.0)).outcome is Outcome.PASS
    assert decide(ones, [1.19] * 8, GatePolicy(1.2, margin=0.02)).outcome is Outcome.INCONCLUSIVE
    assert decide(ones, [1.2] * 8, GatePolicy(1.2, margin=0.0)).outcome is Outcome.INCONCLUSIVE
    result = decide(ones, [1.5] * 8, GatePolicy(1.2, margin=0.02))
    assert result.low == pytest.approx(1.5 / 1.02)
    assert result.high == pytest.approx(1.5 * 1.02)


def test_checks_carry_three_outcomes_and_figures():
    """performance_checks: PASS passes; FAIL and INCONCLUSIVE do not pass; INCONCLUSIVE is flagged."""
    clock = FakeClock()
    gate = PerformanceGate(
        latency=GatePolicy(MAX_LATENCY_RATIO, min_rounds=8, max_rounds=8), clock=clock, min_measure_s=0.0
    )
    costs = np.tile([1.0, 1.0, 1.0, 1.5], 1000)
    perf = compare_performance(engine(clock, [1.0] * 1000), engine(clock, costs), scenarios=5, gate=gate)
    latency, memory = performance_checks(perf)
    assert (latency.passed, latency.inconclusive, latency.outcome) == (False, True, "inconclusive")
    assert "INCONCLUSIVE" in latency.detail
    assert "8 paired rounds" in latency.detail
    assert memory.passed  # a few bytes either side are immaterial (below the memory floor)
    assert perf.to_dict()["latency_gate"]["outcome"] == "inconclusive"


def test_repeats_make_a_measurement_last_long_enough():
    """A 1 ms call is repeated 25 times for a 25 ms measurement; a slow call once; at most 1,000."""
    clock = FakeClock()
    assert repeats_for(engine(clock, [0.001]), clock, 0.025) == 25
    assert repeats_for(engine(clock, [1.0]), clock, 0.025) == 1
    assert repeats_for(engine(clock, [0.0]), clock, 0.025) == 1_000


def test_memory_gate_fails_a_candidate_holding_twice_the_memory():
    """peak_bytes sees a candidate that holds extra copies; the memory gate fails it deterministically."""

    def legacy() -> float:
        return float(np.ones(200_000).sum())

    def candidate() -> float:
        extra = [np.ones(200_000) for _ in range(2)]
        return float(sum(e.sum() for e in extra))

    assert peak_bytes(candidate) >= 1.9 * peak_bytes(legacy)
    result = run_gate(legacy, candidate, peak_bytes, GatePolicy(MAX_MEMORY_RATIO))
    assert result.outcome is Outcome.FAIL
    assert result.ratio == pytest.approx(2.0, rel=0.05)
