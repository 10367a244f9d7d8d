"""The monitor's checks, one function each: a window's health in, one ``Check`` out (pure).

See ``runbook.monitoring._decide`` for how counts become PASS, FAIL or UNDECIDED.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.domain.observation import ErrorKind
from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring._binomial import lower_bound, trials_needed, upper_bound
from runbook.monitoring._health import HealthSummary
from runbook.monitoring._verdict import BaselineLike, Check, CheckStatus, Evidence

__all__ = [
    "check_circuit_breaker",
    "check_error_rate",
    "check_latency",
    "check_memory",
    "check_mismatch_rate",
]


def check_error_rate(summary: HealthSummary, thresholds: RollbackThresholds) -> Check:
    """Calculation errors per candidate call against ``max_error_rate``."""
    counts = _Counts(
        "calculation errors", summary.calculation_errors, "candidate calls", summary.candidate_calls
    )
    return _rate_check("error_rate", counts, thresholds.max_error_rate, thresholds)


def check_mismatch_rate(summary: HealthSummary, thresholds: RollbackThresholds) -> Check:
    """Comparisons outside tolerance against ``max_mismatch_rate``, in every mode.

    Shadow compares every call; in canary and full the router compares served answers with legacy
    off the caller's path (verified canary). Not applicable when a window outside shadow mode holds
    no comparison (a router without verification).
    """
    if summary.comparisons == 0 and "shadow" not in summary.modes:
        return Check(
            "mismatch_rate", CheckStatus.NOT_APPLICABLE, "mismatch_rate: no comparisons outside shadow"
        )
    counts = _Counts("mismatches", summary.mismatches, "comparisons", summary.comparisons)
    return _rate_check("mismatch_rate", counts, thresholds.max_mismatch_rate, thresholds)


def check_circuit_breaker(summary: HealthSummary) -> Check:
    """FAIL when the window holds calls the circuit breaker kept from the candidate.

    A router opens its breaker only after consecutive calculation errors (timeouts, exceptions,
    invalid answers), and the calls it then answers with legacy never reach the candidate, so they
    are in no rate: the breaker having opened at all is the evidence.
    """
    refused = summary.errors_by_kind.get(ErrorKind.CIRCUIT_OPEN.value, 0)
    if refused == 0:
        return Check(
            "circuit_breaker", CheckStatus.NOT_APPLICABLE, "circuit_breaker: never open in the window"
        )
    return Check(
        "circuit_breaker",
        CheckStatus.FAIL,
        f"circuit_breaker: {refused} calls answered by legacy while the router had switched the candidate "
        "off after repeated failures",
        {"circuit_breaker.refused_calls": refused},
    )


@dataclass(frozen=True, slots=True)
class _Counts:
    events_label: str
    events: int
    trials_label: str
    trials: int


def _rate_check(name: str, counts: _Counts, limit: float, thresholds: RollbackThresholds) -> Check:
    confidence, k, n = thresholds.confidence, counts.events, counts.trials
    if n == 0:
        return Check(
            name,
            CheckStatus.UNDECIDED,
            f"{name}: no {counts.trials_label} in the window",
            {f"{name}.trials": 0, f"{name}.events": 0},
        )
    lower, upper = lower_bound(k, n, confidence), upper_bound(k, n, confidence)
    needed = trials_needed(k, limit, confidence) if 0.0 < limit < 1.0 else None
    evidence: Evidence = {
        f"{name}.events": k,
        f"{name}.trials": n,
        f"{name}.rate": k / n,
        f"{name}.lower": lower,
        f"{name}.upper": upper,
        f"{name}.trials_needed": needed,
    }
    seen = f"{name}: {k} {counts.events_label} in {n} {counts.trials_label} ({k / n:.3%})"
    bounds = f"{confidence:.0%} bounds [{lower:.4%}, {upper:.4%}]"
    if lower > limit:
        return Check(
            name, CheckStatus.FAIL, f"{seen}; {bounds}: lower bound above the {limit:.3%} limit", evidence
        )
    if n >= thresholds.min_observations and upper < limit:
        return Check(
            name, CheckStatus.PASS, f"{seen}; {bounds}: upper bound below the {limit:.3%} limit", evidence
        )
    why = f"fewer than {thresholds.min_observations}" if n < thresholds.min_observations else "too few"
    more = f"; {needed} {counts.trials_label} with {k} {counts.events_label} would pass" if needed else ""
    return Check(
        name,
        CheckStatus.UNDECIDED,
        f"{seen}; {bounds}: {why} {counts.trials_label} to decide{more}",
        evidence,
    )


def check_latency(
    summary: HealthSummary, baseline: BaselineLike | None, thresholds: RollbackThresholds
) -> Check:
    """Sign test of the candidate's median latency against a limit both relative and material.

    A candidate call counts as slower when it exceeds max(``max_latency_ratio`` x legacy p50,
    legacy p50 + ``min_latency_excess_us``): relatively slower alone is not enough for engines
    of tens of microseconds, whose rarely routed calls (a 5% canary share) run cold. The legacy
    p50 comes from the window's own legacy calls when it holds at least ``min_observations`` of
    them (same machine, same load, same minute: a like-for-like comparison), else from the stored
    baseline (full mode has no legacy calls).
    """
    base_us, source = _latency_baseline(summary, baseline, thresholds)
    if base_us is None:
        return Check(
            "latency",
            CheckStatus.UNDECIDED,
            f"latency: {summary.legacy_latency_count} legacy calls in the window "
            f"(need {thresholds.min_observations}) and no stored baseline",
        )
    ratio_limit_us = thresholds.max_latency_ratio * base_us
    excess_limit_us = base_us + thresholds.min_latency_excess_us
    limit_us = max(ratio_limit_us, excess_limit_us)
    n = summary.candidate_latency_count
    slower = summary.candidate_calls_over(limit_us)
    p50 = summary.candidate_p50_us
    evidence: Evidence = {
        "latency.baseline_p50_us": base_us,
        "latency.baseline_source": source,
        "latency.ratio_limit_us": ratio_limit_us,
        "latency.excess_limit_us": excess_limit_us,
        "latency.limit_us": limit_us,
        "latency.calls": n,
        "latency.slower_than_limit": slower,
        "latency.ratio": None if p50 is None else p50 / base_us,
    }
    if n == 0:
        return Check(
            "latency", CheckStatus.UNDECIDED, "latency: no candidate latencies in the window", evidence
        )
    lower = lower_bound(slower, n, thresholds.confidence)
    upper = upper_bound(slower, n, thresholds.confidence)
    evidence.update({"latency.slower_lower": lower, "latency.slower_upper": upper})
    seen = (
        f"latency: candidate p50 {summary.candidate_p50_us:.0f} us = {evidence['latency.ratio']:.2f}x "
        f"legacy p50 {base_us:.0f} us ({source}); {slower} of {n} calls over the limit {limit_us:.0f} us "
        f"= max({thresholds.max_latency_ratio:.2f}x legacy p50 = {ratio_limit_us:.0f} us, "
        f"legacy p50 + {thresholds.min_latency_excess_us:g} us = {excess_limit_us:.0f} us)"
    )
    share = f"{thresholds.confidence:.0%} bounds of that share [{lower:.3f}, {upper:.3f}]"
    if lower > 0.5:
        return Check("latency", CheckStatus.FAIL, f"{seen}; {share}: the median is over the limit", evidence)
    if n >= thresholds.min_observations and upper < 0.5:
        return Check("latency", CheckStatus.PASS, f"{seen}; {share}: the median is under the limit", evidence)
    return Check("latency", CheckStatus.UNDECIDED, f"{seen}; {share}: not yet decided", evidence)


def _latency_baseline(
    summary: HealthSummary, baseline: BaselineLike | None, thresholds: RollbackThresholds
) -> tuple[float | None, str]:
    if summary.legacy_latency_count >= thresholds.min_observations and summary.legacy_p50_us:
        return summary.legacy_p50_us, "legacy calls in the window"
    if baseline is not None and baseline.latency_p50_us and baseline.latency_p50_us > 0:
        return float(baseline.latency_p50_us), "stored baseline"
    return None, "none"


def check_memory(
    summary: HealthSummary, baseline: BaselineLike | None, thresholds: RollbackThresholds
) -> Check:
    """Candidate memory per call against ``max_memory_ratio`` x the legacy peak (stored, else the window's).

    The candidate's figure is the median of its per-call peaks in the window (one call that finds
    caches cold, or lazily imports a module, cannot move it; a candidate needing more on every call
    moves it by exactly that), else its largest sample. Not applicable when the window holds no
    memory sample of the candidate or no legacy peak is known.
    """
    stored = baseline.peak_memory_bytes if baseline is not None and baseline.peak_memory_bytes else 0
    base, source = (
        (stored, "stored baseline")
        if stored > 0
        else (summary.peak_legacy_memory_bytes, "legacy calls in the window")
    )
    peak = summary.candidate_memory_p50_bytes or summary.peak_candidate_memory_bytes
    if peak <= 0 or base <= 0:
        return Check(
            "memory",
            CheckStatus.NOT_APPLICABLE,
            f"memory: not sampled (candidate peak {peak} B, legacy peak {base} B)",
        )
    ratio = peak / base
    evidence: Evidence = {
        "memory.peak_bytes": peak,
        "memory.candidate_max_call_bytes": summary.peak_candidate_memory_bytes,
        "memory.source": "observations: median of the candidate's per-call peaks in the window",
        "memory.baseline_bytes": base,
        "memory.baseline_source": source,
        "memory.ratio": ratio,
    }
    seen = (
        f"memory: candidate peak {peak / 2**20:.2f} MiB per call (median) = {ratio:.2f}x legacy peak "
        f"{base / 2**20:.2f} MiB ({source}), limit {thresholds.max_memory_ratio:.2f}x"
    )
    status = CheckStatus.FAIL if ratio > thresholds.max_memory_ratio else CheckStatus.PASS
    return Check("memory", status, seen, evidence)
