"""From a window's health to a verdict: CONTINUE, HOLD or ROLLBACK (pure, DESIGN.md section 7).

Every rate is decided on counts with exact one-sided Clopper-Pearson bounds at
``thresholds.confidence``:

- ROLLBACK when the lower bound of the rate is above the limit (the excess is shown, whatever n);
- pass when at least ``thresholds.min_observations`` calls were seen and the upper bound is below
  the limit (the rate is shown to be within it);
- otherwise undecided: the verdict is HOLD until the window holds enough calls.

So 1 calculation error in 50 calls neither passes nor fails; 0 errors in 200 calls does not pass
either (at 99% a 0.1% limit needs 4,603 clean calls: the evidence says how many are needed).

Latency is a sign test on the median: k of n candidate calls slower than ``max_latency_ratio`` x the
baseline p50. The median is above the limit when the lower bound of k/n exceeds 1/2, and shown
below it when the upper bound is under 1/2. Memory compares peaks (a peak is a fact, not an estimate).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring._binomial import lower_bound, trials_needed, upper_bound
from runbook.monitoring._health import HealthSummary

__all__ = [
    "BaselineLike",
    "Check",
    "CheckStatus",
    "MonitorDecision",
    "Verdict",
    "check_error_rate",
    "check_latency",
    "check_memory",
    "check_mismatch_rate",
    "combine",
    "decide",
]


class Verdict(StrEnum):
    """What the monitor concludes about a component for now."""

    CONTINUE = "continue"
    HOLD = "hold"
    ROLLBACK = "rollback"


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"
    NOT_APPLICABLE = "not_applicable"


class BaselineLike(Protocol):
    """The legacy baseline a candidate is held to (``runbook.control.baselines.Baseline`` fits)."""

    @property
    def latency_p50_us(self) -> float: ...
    @property
    def peak_memory_bytes(self) -> int: ...
    @property
    def hedge_effectiveness(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome: ``reason`` names the check and its numbers; evidence is JSON-able."""

    name: str
    status: CheckStatus
    reason: str
    evidence: dict[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MonitorDecision:
    """A monitor verdict with its reasons (one line per check, failures first) and evidence.

    ``evidence`` is a flat JSON-able mapping of numbers (counts, rates, bounds, microseconds,
    bytes) plus the status of each check under ``check.<name>``.
    """

    verdict: Verdict
    reasons: tuple[str, ...]
    evidence: dict[str, float | int | str | None]

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """Names of the checks that failed (non-empty exactly when the verdict is ROLLBACK)."""
        return tuple(
            k.removeprefix("check.")
            for k, v in self.evidence.items()
            if k.startswith("check.") and v == CheckStatus.FAIL.value
        )

    @property
    def summary(self) -> str:
        """One line: the verdict and the reasons that made it (failures, else undecided checks)."""
        return f"{self.verdict.value.upper()}: " + ("; ".join(self.reasons[:3]) or "no checks")

    def to_dict(self) -> dict[str, object]:
        return {"verdict": self.verdict.value, "reasons": list(self.reasons), "evidence": dict(self.evidence)}


_ORDER = (CheckStatus.FAIL, CheckStatus.UNDECIDED, CheckStatus.PASS, CheckStatus.NOT_APPLICABLE)


def combine(
    checks: Iterable[Check], summary: HealthSummary, thresholds: RollbackThresholds
) -> MonitorDecision:
    """ROLLBACK if any check failed, else HOLD if any is undecided, else CONTINUE."""
    checks = sorted(checks, key=lambda c: _ORDER.index(c.status))
    statuses = {c.status for c in checks}
    if CheckStatus.FAIL in statuses:
        verdict = Verdict.ROLLBACK
    elif CheckStatus.UNDECIDED in statuses or summary.observations == 0:
        verdict = Verdict.HOLD
    else:
        verdict = Verdict.CONTINUE
    evidence: dict[str, float | int | str | None] = {
        "verdict": verdict.value,
        "component": summary.component,
        "modes": ",".join(summary.modes),
        "first_at": summary.first_at,
        "last_at": summary.last_at,
        **summary.counts(),
        "max_error_rate": thresholds.max_error_rate,
        "max_mismatch_rate": thresholds.max_mismatch_rate,
        "max_latency_ratio": thresholds.max_latency_ratio,
        "max_memory_ratio": thresholds.max_memory_ratio,
        "min_observations": thresholds.min_observations,
        "confidence": thresholds.confidence,
    }
    for check in checks:
        evidence[f"check.{check.name}"] = check.status.value
        evidence.update(check.evidence)
    reasons = [c.reason for c in checks]
    if summary.observations == 0:
        reasons.insert(0, "window: no observations since the last state change")
    return MonitorDecision(verdict=verdict, reasons=tuple(reasons), evidence=evidence)


def decide(
    summary: HealthSummary,
    baseline: BaselineLike | None,
    thresholds: RollbackThresholds,
    *,
    extra_checks: Sequence[Check] = (),
) -> MonitorDecision:
    """The AutoRollbackMonitor verdict: error rate, shadow mismatch rate, latency, memory."""
    checks = [
        check_error_rate(summary, thresholds),
        check_mismatch_rate(summary, thresholds),
        check_latency(summary, baseline, thresholds),
        check_memory(summary, baseline, thresholds),
        *extra_checks,
    ]
    return combine(checks, summary, thresholds)


def check_error_rate(summary: HealthSummary, thresholds: RollbackThresholds) -> Check:
    """Calculation errors per candidate call against ``max_error_rate``."""
    counts = _Counts(
        "calculation errors", summary.calculation_errors, "candidate calls", summary.candidate_calls
    )
    return _rate_check("error_rate", counts, thresholds.max_error_rate, thresholds)


def check_mismatch_rate(summary: HealthSummary, thresholds: RollbackThresholds) -> Check:
    """Comparisons outside tolerance against ``max_mismatch_rate``.

    Not applicable when a window outside shadow mode holds no comparison (canary and full calls
    are answered by one engine only).
    """
    if summary.comparisons == 0 and "shadow" not in summary.modes:
        return Check(
            "mismatch_rate", CheckStatus.NOT_APPLICABLE, "mismatch_rate: no comparisons outside shadow"
        )
    counts = _Counts("mismatches", summary.mismatches, "comparisons", summary.comparisons)
    return _rate_check("mismatch_rate", counts, thresholds.max_mismatch_rate, thresholds)


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
    evidence: dict[str, float | int | str | None] = {
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
    """Sign test of the candidate's median latency against ``max_latency_ratio`` x the legacy p50.

    The legacy p50 comes from the window's own legacy calls when it holds at least
    ``min_observations`` of them (same machine, same load, same minute: a like-for-like
    comparison), else from the stored baseline (full mode has no legacy calls).
    """
    base_us, source = _latency_baseline(summary, baseline, thresholds)
    if base_us is None:
        return Check(
            "latency",
            CheckStatus.UNDECIDED,
            f"latency: {len(summary.legacy_latencies_us)} legacy calls in the window "
            f"(need {thresholds.min_observations}) and no stored baseline",
        )
    limit_us = thresholds.max_latency_ratio * base_us
    latencies = summary.candidate_latencies_us
    n = len(latencies)
    slower = n - bisect.bisect_right(latencies, limit_us)
    p50 = summary.candidate_p50_us
    evidence: dict[str, float | int | str | None] = {
        "latency.baseline_p50_us": base_us,
        "latency.baseline_source": source,
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
        f"legacy p50 {base_us:.0f} us ({source}); {slower} of {n} calls over the "
        f"{thresholds.max_latency_ratio:.2f}x limit {limit_us:.0f} us"
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
    if len(summary.legacy_latencies_us) >= thresholds.min_observations and summary.legacy_p50_us:
        return summary.legacy_p50_us, "legacy calls in the window"
    if baseline is not None and baseline.latency_p50_us and baseline.latency_p50_us > 0:
        return float(baseline.latency_p50_us), "stored baseline"
    return None, "none"


def check_memory(
    summary: HealthSummary, baseline: BaselineLike | None, thresholds: RollbackThresholds
) -> Check:
    """Peak candidate memory against ``max_memory_ratio`` x the legacy peak (stored, else the window's).

    Not applicable when the window holds no memory sample of the candidate or no legacy peak is known.
    """
    stored = baseline.peak_memory_bytes if baseline is not None and baseline.peak_memory_bytes else 0
    base, source = (
        (stored, "stored baseline")
        if stored > 0
        else (summary.peak_legacy_memory_bytes, "legacy calls in the window")
    )
    peak = summary.peak_candidate_memory_bytes
    if peak <= 0 or base <= 0:
        return Check(
            "memory",
            CheckStatus.NOT_APPLICABLE,
            f"memory: not sampled (candidate peak {peak} B, legacy peak {base} B)",
        )
    ratio = peak / base
    evidence: dict[str, float | int | str | None] = {
        "memory.peak_bytes": peak,
        "memory.baseline_bytes": base,
        "memory.baseline_source": source,
        "memory.ratio": ratio,
    }
    seen = (
        f"memory: candidate peak {peak / 2**20:.1f} MiB = {ratio:.2f}x legacy peak "
        f"{base / 2**20:.1f} MiB ({source}), limit {thresholds.max_memory_ratio:.2f}x"
    )
    status = CheckStatus.FAIL if ratio > thresholds.max_memory_ratio else CheckStatus.PASS
    return Check("memory", status, seen, evidence)
