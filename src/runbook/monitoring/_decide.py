"""From a window's health to a verdict: CONTINUE, HOLD or ROLLBACK (pure, DESIGN.md section 7).

Every rate is decided on counts with exact one-sided Clopper-Pearson bounds at
``thresholds.confidence``:

- ROLLBACK when the lower bound of the rate is above the limit (the excess is shown, whatever n);
- pass when at least ``thresholds.min_observations`` calls were seen and the upper bound is below
  the limit (the rate is shown to be within it);
- otherwise undecided: the verdict is HOLD until the window holds enough calls.

So 1 calculation error in 50 calls neither passes nor fails; 0 errors in 200 calls does not pass
either (at 99% a 0.1% limit needs 4,603 clean calls: the evidence says how many are needed).

Latency is a sign test on the median: k of n candidate calls slower than the limit, which is both
relative and material: max(``max_latency_ratio`` x the baseline p50, the baseline p50 +
``min_latency_excess_us``). The median is above the limit when the lower bound of k/n exceeds 1/2,
and shown below it when the upper bound is under 1/2. Memory compares peaks: the probe's median per-call peaks
(``runbook.monitoring._memory``) when one is given, else the window's memory samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring._checks import (
    check_circuit_breaker,
    check_error_rate,
    check_latency,
    check_memory,
    check_mismatch_rate,
)
from runbook.monitoring._health import HealthSummary
from runbook.monitoring._memory import MemorySample, check_probed_memory
from runbook.monitoring._verdict import BaselineLike, Check, CheckStatus, Evidence, MonitorDecision, Verdict

__all__ = ["combine", "decide"]


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
    evidence: Evidence = {
        "verdict": verdict.value,
        "component": summary.component,
        "modes": ",".join(summary.modes),
        "first_at": summary.first_at,
        "last_at": summary.last_at,
        **summary.counts(),
        "max_error_rate": thresholds.max_error_rate,
        "max_mismatch_rate": thresholds.max_mismatch_rate,
        "max_latency_ratio": thresholds.max_latency_ratio,
        "min_latency_excess_us": thresholds.min_latency_excess_us,
        "max_memory_ratio": thresholds.max_memory_ratio,
        "min_observations": thresholds.min_observations,
        "confidence": thresholds.confidence,
    }
    for check in checks:
        evidence[f"check.{check.name}"] = check.status.value
        evidence.update(check.evidence)
    reasons = [c.reason for c in checks]
    if summary.observations == 0:  # after the failures: a probe's failure is the news, not the quiet window
        failures = sum(1 for c in checks if c.status is CheckStatus.FAIL)
        reasons.insert(failures, "window: no observations since the last state change")
    return MonitorDecision(verdict=verdict, reasons=tuple(reasons), evidence=evidence)


def decide(
    summary: HealthSummary,
    baseline: BaselineLike | None,
    thresholds: RollbackThresholds,
    *,
    extra_checks: Sequence[Check] = (),
    memory: MemorySample | None = None,
) -> MonitorDecision:
    """The AutoRollbackMonitor verdict: error rate, mismatch rate, circuit breaker, latency, memory.

    ``memory``: a probe's peaks (decides the memory check); None leaves it to the window's samples.
    """
    checks = [
        check_error_rate(summary, thresholds),
        check_mismatch_rate(summary, thresholds),
        check_circuit_breaker(summary),
        check_latency(summary, baseline, thresholds),
        check_memory(summary, baseline, thresholds)
        if memory is None
        else check_probed_memory(memory, thresholds),
        *extra_checks,
    ]
    return combine(checks, summary, thresholds)
