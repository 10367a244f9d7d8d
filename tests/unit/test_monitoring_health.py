"""What a window of observations summarises to: which calls count, which are errors or mismatches."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.monitoring import summarize
from runbook.monitoring._health import quantile


def obs(
    route: Route = Route.LEGACY,
    *,
    mode: str = "shadow",
    kind: ErrorKind = ErrorKind.NONE,
    legacy_us: float | None = 100.0,
    candidate_us: float | None = 120.0,
    rel: float | None = None,
    absolute: float | None = None,
    memory: int = 0,
    component: str = "var_engine",
) -> Observation:
    return Observation(
        component=component,
        mode=mode,
        route=route,
        routing_key="book-1",
        at=10.0,
        legacy_latency_us=legacy_us,
        candidate_latency_us=candidate_us,
        error_kind=kind,
        abs_difference=absolute,
        rel_difference=rel,
        memory_bytes=memory,
    )


def test_quantiles_match_numpy_linear() -> None:
    """p50 and p99 use numpy's 'linear' method (Hyndman-Fan 7), the method every report names."""
    rng = random.Random(3)
    values = sorted(rng.lognormvariate(4.0, 0.7) for _ in range(1_001))
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        assert quantile(values, q) == pytest.approx(float(np.quantile(values, q, method="linear")), rel=1e-12)
    assert quantile([], 0.5) is None


def test_candidate_calls_exclude_skipped_shadow_calls() -> None:
    """A shadow call skipped for a full queue never ran the candidate and is not a candidate call."""
    window = [obs(), obs(kind=ErrorKind.SKIPPED, candidate_us=None), obs(Route.CANDIDATE, mode="canary")]
    summary = summarize(window)
    assert summary.observations == 3
    assert summary.candidate_calls == 2
    assert summary.skipped == 1
    assert summary.candidate_routed == 1
    assert summary.legacy_routed == 2


def test_calculation_errors_are_exception_timeout_invalid_result() -> None:
    """Only exception, timeout and invalid_result count as calculation errors; mismatch and a legacy
    exception do not."""
    kinds = [
        ErrorKind.EXCEPTION,
        ErrorKind.TIMEOUT,
        ErrorKind.INVALID_RESULT,
        ErrorKind.MISMATCH,
        ErrorKind.LEGACY_EXCEPTION,
        ErrorKind.NONE,
    ]
    summary = summarize(
        [obs(Route.LEGACY, mode="canary", kind=k, candidate_us=None) for k in kinds[:3]]
        + [obs(kind=k) for k in kinds[3:]]
    )
    assert summary.calculation_errors == 3
    assert summary.candidate_calls == 6
    assert summary.errors_by_kind == {
        "exception": 1,
        "invalid_result": 1,
        "legacy_exception": 1,
        "mismatch": 1,
        "timeout": 1,
    }


def test_mismatches_use_both_tolerances() -> None:
    """A comparison is a mismatch when rel > 1e-5 and abs > atol, or flagged mismatch, or rel is NaN."""
    window = [
        obs(rel=0.0, absolute=0.0),
        obs(rel=5e-6, absolute=0.5),
        obs(rel=2e-5, absolute=0.5),
        obs(rel=2e-5, absolute=1e-9),
        obs(rel=math.nan, absolute=None),
        obs(kind=ErrorKind.MISMATCH),
        obs(rel=None),
    ]
    summary = summarize(window, abs_tolerance=1e-6)
    assert summary.comparisons == 6
    assert summary.mismatches == 3
    assert summary.max_rel_difference is not None
    assert math.isnan(summary.max_rel_difference)
    assert summary.counts()["max_rel_difference"] is None


def test_latencies_and_memory_split_by_engine() -> None:
    """Candidate latencies come from calls that ran it; memory peaks are taken per route."""
    window = [
        obs(Route.CANDIDATE, mode="canary", legacy_us=None, candidate_us=300.0, memory=50),
        obs(Route.CANDIDATE, mode="canary", legacy_us=None, candidate_us=100.0, memory=70),
        obs(Route.LEGACY, mode="canary", legacy_us=80.0, candidate_us=None, memory=40),
    ]
    summary = summarize(window)
    assert summary.candidate_latencies_us == (100.0, 300.0)
    assert summary.candidate_p50_us == 200.0
    assert summary.legacy_p50_us == 80.0
    assert (summary.peak_candidate_memory_bytes, summary.peak_legacy_memory_bytes) == (70, 40)


def test_other_components_are_ignored_when_named() -> None:
    """summarize(component=...) keeps only that component's observations, and names an empty window."""
    window = [obs(component="var_engine"), obs(component="hedge_calculator")]
    assert summarize(window, component="hedge_calculator").observations == 1
    assert summarize([], component="var_engine").component == "var_engine"
