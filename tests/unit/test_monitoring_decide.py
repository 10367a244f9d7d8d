"""The monitor's decision table: count-based error and mismatch rates, latency, memory, hedge
effectiveness. Bounds and verdicts are checked against scipy's exact binomial test as the oracle."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from runbook.control.baselines import Baseline
from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring import (
    AutoRollbackMonitor,
    CriticalComponentMonitor,
    EffectivenessSample,
    Verdict,
    calls_needed,
    summarize,
)
from runbook.monitoring._checks import check_error_rate, check_latency
from runbook.monitoring._verdict import CheckStatus

ADR = RollbackThresholds()
BASELINE = Baseline(latency_p50_us=100.0, latency_p99_us=400.0, peak_memory_bytes=100 * 2**20)
ENOUGH = 20_000  # candidate calls: well past the 4,603 a clean 0.1% pass needs at 99%
# A millisecond engine: 20% of its p50 (200 us) is well over the 50 us floor, so the ratio decides.
MS_BASELINE = Baseline(latency_p50_us=1_000.0, latency_p99_us=4_000.0, peak_memory_bytes=100 * 2**20)


def canary_calls(
    n: int,
    *,
    errors: int = 0,
    latency_factor: float = 1.0,
    memory_bytes: int = 0,
    component: str = "var_engine",
    seed: int = 0,
    base_us: float = BASELINE.latency_p50_us,
) -> list[Observation]:
    """n candidate-routed canary calls; the first ``errors`` raised; lognormal latencies (sigma 0.3)
    around ``latency_factor`` x ``base_us`` (the baseline's 100 us median by default)."""
    rng = random.Random(seed)
    return [
        Observation(
            component=component,
            mode="canary",
            route=Route.CANDIDATE,
            routing_key=f"book-{i % 97}",
            at=1_000.0 + i * 1e-3,
            legacy_latency_us=None,
            candidate_latency_us=base_us * latency_factor * math.exp(0.3 * rng.gauss(0.0, 1.0)),
            error_kind=ErrorKind.EXCEPTION if i < errors else ErrorKind.NONE,
            memory_bytes=memory_bytes,
        )
        for i in range(n)
    ]


def shadow_calls(n: int, *, mismatches: int = 0, seed: int = 1) -> list[Observation]:
    """n shadow comparisons (both engines ran); the first ``mismatches`` differ by 1e-3 relative."""
    rng = random.Random(seed)
    return [
        Observation(
            component="correlation_analyzer",
            mode="shadow",
            route=Route.LEGACY,
            routing_key=f"book-{i % 31}",
            at=2_000.0 + i * 1e-3,
            legacy_latency_us=100.0 * math.exp(0.3 * rng.gauss(0.0, 1.0)),
            candidate_latency_us=100.0 * math.exp(0.3 * rng.gauss(0.0, 1.0)),
            abs_difference=1e-3 if i < mismatches else 0.0,
            rel_difference=1e-3 if i < mismatches else 0.0,
        )
        for i in range(n)
    ]


def verdict(observations: list[Observation], baseline: Baseline | None = BASELINE) -> Verdict:
    return AutoRollbackMonitor(ADR).evaluate(observations, baseline=baseline).verdict


# ---- error rate -----------------------------------------------------------------------------------


def test_errors_well_below_the_limit_with_enough_calls_continue() -> None:
    """1 error in 20,000 candidate calls (0.005%) passes the 0.1% limit: CONTINUE."""
    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(ENOUGH, errors=1), baseline=BASELINE)
    assert decision.verdict is Verdict.CONTINUE
    assert decision.evidence["check.error_rate"] == "pass"


def test_errors_at_the_limit_hold() -> None:
    """20 errors in 20,000 calls is exactly 0.1%: neither bound crosses the limit, so HOLD."""
    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(ENOUGH, errors=20), baseline=BASELINE)
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["error_rate.lower"] < 0.001 < decision.evidence["error_rate.upper"]


def test_errors_above_the_limit_roll_back() -> None:
    """60 errors in 20,000 calls (0.3%) is shown above 0.1%: ROLLBACK, the reason names the counts."""
    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(ENOUGH, errors=60), baseline=BASELINE)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("error_rate",)
    assert "60 calculation errors in 20000 candidate calls" in decision.reasons[0]


def test_one_error_in_fifty_calls_holds() -> None:
    """1 error in 50 calls neither passes nor fails the 0.1% limit: HOLD until more calls come."""
    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(50, errors=1), baseline=BASELINE)
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["check.error_rate"] == "undecided"


def test_no_error_in_few_calls_holds() -> None:
    """0 errors in 150 calls (below min_observations) and in 300 calls (below 4,603) both HOLD."""
    assert verdict(canary_calls(150)) is Verdict.HOLD
    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(300), baseline=BASELINE)
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["error_rate.trials_needed"] == math.ceil(math.log(0.01) / math.log(0.999))


def test_two_errors_in_fifty_calls_roll_back() -> None:
    """2 errors in 50 calls (4%) is already significant against 0.1% at 99%: ROLLBACK without waiting."""
    assert verdict(canary_calls(50, errors=2)) is Verdict.ROLLBACK


def test_empty_window_holds() -> None:
    """No observation at all is HOLD, never CONTINUE."""
    decision = AutoRollbackMonitor(ADR).evaluate([], baseline=BASELINE, component="var_engine")
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["component"] == "var_engine"


@pytest.mark.parametrize(
    ("errors", "calls"),
    [(0, 50), (1, 50), (2, 50), (0, 199), (0, 4602), (0, 4603), (1, 6000), (1, 7000), (9, 5000), (12, 5000)],
)
def test_error_verdict_agrees_with_scipy_binomtest(errors: int, calls: int) -> None:
    """FAIL exactly when binomtest rejects p <= 0.1% at 1%; PASS exactly when it rejects p >= 0.1%
    (with at least min_observations calls); else undecided."""
    summary = summarize(canary_calls(calls, errors=errors))
    status = check_error_rate(summary, ADR).status
    alpha = 1 - ADR.confidence
    excess = stats.binomtest(errors, calls, ADR.max_error_rate, alternative="greater").pvalue < alpha
    within = stats.binomtest(errors, calls, ADR.max_error_rate, alternative="less").pvalue < alpha
    expected = (
        CheckStatus.FAIL
        if excess
        else CheckStatus.PASS
        if within and calls >= ADR.min_observations
        else CheckStatus.UNDECIDED
    )
    assert status is expected


def test_calls_needed_sizes_windows() -> None:
    """calls_needed is the first count whose 99% upper bound is under 0.1%, never below min_observations."""
    needed = calls_needed(ADR)
    assert stats.beta.ppf(0.99, 1, needed) < 0.001 <= stats.beta.ppf(0.99, 1, needed - 1)
    assert calls_needed(RollbackThresholds(max_error_rate=0.5, min_observations=200)) == 200


# ---- shadow mismatches ----------------------------------------------------------------------------


def test_shadow_mismatches_above_the_limit_roll_back() -> None:
    """30 comparisons outside the 1e-5 tolerance in 6,000 (0.5%) roll back a shadow component."""
    decision = AutoRollbackMonitor(ADR).evaluate(shadow_calls(6_000, mismatches=30), baseline=None)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("mismatch_rate",)


def test_clean_shadow_window_continues_on_its_own_legacy_latencies() -> None:
    """6,000 identical shadow comparisons continue; with no stored baseline, latency uses legacy's calls."""
    decision = AutoRollbackMonitor(ADR).evaluate(shadow_calls(6_000), baseline=None)
    assert decision.verdict is Verdict.CONTINUE
    assert decision.evidence["latency.baseline_source"] == "legacy calls in the window"


# ---- latency --------------------------------------------------------------------------------------


def test_latency_thirty_percent_slower_rolls_back() -> None:
    """A 1 ms engine's candidate median 1.3x the legacy p50 (+300 us) is over the 1.2x limit: ROLLBACK."""
    calls = canary_calls(6_000, latency_factor=1.3, base_us=MS_BASELINE.latency_p50_us)
    decision = AutoRollbackMonitor(ADR).evaluate(calls, baseline=MS_BASELINE)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("latency",)
    assert decision.evidence["latency.ratio"] == pytest.approx(1.3, rel=0.03)


def test_latency_ten_percent_slower_continues() -> None:
    """A candidate median 1.1x the legacy p50 is within the 1.2x limit: CONTINUE."""
    assert verdict(canary_calls(6_000, latency_factor=1.1)) is Verdict.CONTINUE
    ms_calls = canary_calls(6_000, latency_factor=1.1, base_us=MS_BASELINE.latency_p50_us)
    assert verdict(ms_calls, baseline=MS_BASELINE) is Verdict.CONTINUE


def test_latency_half_again_slower_by_ten_microseconds_is_not_slow() -> None:
    """A 20 us engine's candidate at 1.5x (only +10 us) is under the 50 us floor: latency passes."""
    baseline = Baseline(latency_p50_us=20.0, latency_p99_us=80.0, peak_memory_bytes=100 * 2**20)
    decision = AutoRollbackMonitor(ADR).evaluate(
        canary_calls(6_000, latency_factor=1.5, base_us=20.0), baseline=baseline
    )
    assert decision.evidence["latency.ratio"] == pytest.approx(1.5, rel=0.03)
    assert decision.evidence["check.latency"] == "pass"
    assert decision.verdict is Verdict.CONTINUE


def test_latency_thirty_percent_and_two_hundred_microseconds_slower_rolls_back() -> None:
    """A candidate median 1.3x and +200 us over a 667 us legacy p50 is over both limits: ROLLBACK."""
    base_us = 2_000.0 / 3.0
    baseline = Baseline(latency_p50_us=base_us, latency_p99_us=4 * base_us, peak_memory_bytes=100 * 2**20)
    decision = AutoRollbackMonitor(ADR).evaluate(
        canary_calls(6_000, latency_factor=1.3, base_us=base_us), baseline=baseline
    )
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("latency",)
    assert decision.evidence["candidate_p50_us"] - base_us == pytest.approx(200.0, rel=0.1)


def test_latency_limit_is_the_larger_of_ratio_and_floor_and_evidence_states_both() -> None:
    """The limit is max(1.2 x p50, p50 + 50 us): the floor binds at 100 us, the ratio at 1 ms."""
    micro = check_latency(summarize(canary_calls(300)), BASELINE, ADR).evidence
    assert (micro["latency.ratio_limit_us"], micro["latency.excess_limit_us"]) == (120.0, 150.0)
    assert micro["latency.limit_us"] == 150.0
    milli = check_latency(summarize(canary_calls(300, base_us=1_000.0)), MS_BASELINE, ADR)
    assert (milli.evidence["latency.ratio_limit_us"], milli.evidence["latency.excess_limit_us"]) == (
        1_200.0,
        1_050.0,
    )
    assert milli.evidence["latency.limit_us"] == 1_200.0
    assert "1.20x legacy p50 = 1200 us" in milli.reason
    assert "legacy p50 + 50 us = 1050 us" in milli.reason


def test_latency_floor_comes_from_the_thresholds() -> None:
    """With min_latency_excess_us 0 the ratio alone decides: 1.3x over a 100 us p50 rolls back."""
    strict = AutoRollbackMonitor(RollbackThresholds(min_latency_excess_us=0.0))
    calls = canary_calls(6_000, latency_factor=1.3)
    assert verdict(calls) is Verdict.CONTINUE
    assert strict.evaluate(calls, baseline=BASELINE).failed_checks == ("latency",)


@pytest.mark.parametrize("excess", [-1.0, math.nan, math.inf])
def test_latency_floor_must_be_a_finite_non_negative_number(excess: float) -> None:
    """A negative, NaN or infinite min_latency_excess_us is refused, naming the value."""
    with pytest.raises(BadParameter, match="min_latency_excess_us"):
        RollbackThresholds(min_latency_excess_us=excess)


@pytest.mark.parametrize(
    ("baseline", "factors"),
    [(MS_BASELINE, (1.15, 1.22, 1.25, 1.3)), (BASELINE, (1.3, 1.45, 1.52, 1.55, 1.65))],
)
def test_latency_sign_test_agrees_with_scipy(baseline: Baseline, factors: tuple[float, ...]) -> None:
    """The latency check fails exactly when binomtest says over half the calls exceed
    max(1.2 x p50, p50 + 50 us)."""
    p50 = baseline.latency_p50_us
    limit = max(ADR.max_latency_ratio * p50, p50 + ADR.min_latency_excess_us)
    for factor in factors:
        summary = summarize(canary_calls(1_000, latency_factor=factor, seed=7, base_us=p50))
        slower = sum(1 for v in summary.candidate_latencies_us if v > limit)
        over = stats.binomtest(slower, 1_000, 0.5, alternative="greater").pvalue < 1 - ADR.confidence
        assert (check_latency(summary, baseline, ADR).status is CheckStatus.FAIL) == over


def test_legacy_calls_in_the_window_are_preferred_to_the_stored_baseline() -> None:
    """With enough legacy calls in the window, latency is judged against them, not the stored p50."""
    legacy_kept = [
        Observation("var_engine", "canary", Route.LEGACY, f"book-{i}", 1_000.0, 200.0 + i % 7, None)
        for i in range(ADR.min_observations)
    ]
    decision = AutoRollbackMonitor(ADR).evaluate(
        canary_calls(6_000, latency_factor=1.5) + legacy_kept, baseline=BASELINE
    )
    assert decision.evidence["latency.baseline_source"] == "legacy calls in the window"
    assert decision.evidence["check.latency"] == "pass"


def test_latency_without_any_baseline_holds() -> None:
    """Canary calls with no stored baseline and no legacy calls cannot be judged on latency: HOLD."""
    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(6_000), baseline=None)
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["check.latency"] == "undecided"


# ---- memory ---------------------------------------------------------------------------------------


def test_memory_sixty_percent_more_rolls_back() -> None:
    """A candidate peak 1.6x the legacy baseline peak is over the 1.5x limit: ROLLBACK."""
    calls = canary_calls(6_000, memory_bytes=int(1.6 * BASELINE.peak_memory_bytes))
    decision = AutoRollbackMonitor(ADR).evaluate(calls, baseline=BASELINE)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("memory",)
    assert decision.evidence["memory.ratio"] == pytest.approx(1.6)


def test_memory_forty_percent_more_continues() -> None:
    """A candidate peak 1.4x the baseline is within the 1.5x limit: CONTINUE."""
    calls = canary_calls(6_000, memory_bytes=int(1.4 * BASELINE.peak_memory_bytes))
    assert verdict(calls) is Verdict.CONTINUE


# ---- hedge effectiveness --------------------------------------------------------------------------


def hedge_samples(ratio: float, n: int = 200) -> list[EffectivenessSample]:
    """Paired samples whose candidate mean HE is ``ratio`` x legacy's mean HE (legacy varies by regime)."""
    legacy = [0.5 + 0.3 * (i % 10) / 10 for i in range(n)]
    return [EffectivenessSample(candidate=ratio * value, legacy=value) for value in legacy]


def evaluate_hedge(ratio: float):  # type: ignore[no-untyped-def]
    calls = canary_calls(6_000, component="hedge_calculator")
    return CriticalComponentMonitor(ADR).evaluate(
        calls, baseline=BASELINE, effectiveness=hedge_samples(ratio)
    )


def test_hedge_effectiveness_at_093_rolls_back() -> None:
    """Candidate effectiveness 0.93x legacy's is below the ADR's 0.95x: ROLLBACK."""
    decision = evaluate_hedge(0.93)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.failed_checks == ("hedge_effectiveness",)
    assert decision.evidence["hedge_effectiveness.ratio"] == pytest.approx(0.93)


def test_hedge_effectiveness_at_097_continues() -> None:
    """Candidate effectiveness 0.97x legacy's is within the limit: CONTINUE."""
    assert evaluate_hedge(0.97).verdict is Verdict.CONTINUE


def test_hedge_calculator_without_effectiveness_holds() -> None:
    """hedge_calculator with healthy calls but no effectiveness measured is HOLD, never CONTINUE."""
    calls = canary_calls(6_000, component="hedge_calculator")
    decision = CriticalComponentMonitor(ADR).evaluate(calls, baseline=BASELINE)
    assert decision.verdict is Verdict.HOLD
    assert decision.evidence["check.hedge_effectiveness"] == "undecided"


def test_hedge_effectiveness_falls_back_to_the_stored_baseline() -> None:
    """Samples without legacy figures are compared with the stored baseline effectiveness."""
    baseline = Baseline(100.0, 400.0, 100 * 2**20, hedge_effectiveness=0.64)
    samples = [EffectivenessSample(candidate=0.58) for _ in range(200)]
    calls = canary_calls(6_000, component="hedge_calculator")
    decision = CriticalComponentMonitor(ADR).evaluate(calls, baseline=baseline, effectiveness=samples)
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.evidence["hedge_effectiveness.ratio"] == pytest.approx(0.58 / 0.64)


def test_evidence_is_json() -> None:
    """A decision's evidence serialises as strict JSON (no NaN or inf)."""
    import json

    decision = AutoRollbackMonitor(ADR).evaluate(canary_calls(300, errors=3), baseline=BASELINE)
    json.dumps(decision.to_dict(), allow_nan=False)
