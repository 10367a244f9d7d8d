"""ADR-0011's AutoRollbackMonitor and CriticalComponentMonitor: observations in, verdict out (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runbook.domain.components import Component, is_critical, parse_component
from runbook.domain.observation import Observation
from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring._binomial import trials_needed
from runbook.monitoring._decide import decide
from runbook.monitoring._effectiveness import EffectivenessSample, check_hedge_effectiveness
from runbook.monitoring._health import DEFAULT_REL_TOLERANCE, HealthSummary, summarize
from runbook.monitoring._memory import MemorySample
from runbook.monitoring._verdict import BaselineLike, MonitorDecision

__all__ = ["AutoRollbackMonitor", "CriticalComponentMonitor", "calls_needed", "monitor_for"]


class AutoRollbackMonitor:
    """The ADR's rollback triggers over a window of observations of one component.

    Calculation error rate > ``max_error_rate``, mismatch rate > ``max_mismatch_rate`` (shadow
    comparisons, and served answers verified against legacy in canary and full), a circuit breaker
    that took the candidate off the path,
    median latency > max(``max_latency_ratio`` x legacy p50, legacy p50 + ``min_latency_excess_us``),
    peak memory > ``max_memory_ratio`` x legacy peak (from the observations' per-call samples
    under process isolation, else measured by ``memory_probe``). ``rel_tolerance`` /
    ``abs_tolerance`` say when a comparison is a mismatch (DESIGN.md 6).
    """

    def __init__(
        self,
        thresholds: RollbackThresholds | None = None,
        *,
        rel_tolerance: float = DEFAULT_REL_TOLERANCE,
        abs_tolerance: float = 0.0,
    ) -> None:
        if rel_tolerance < 0 or abs_tolerance < 0:
            raise BadParameter(f"tolerances must be >= 0, got rel {rel_tolerance!r}, abs {abs_tolerance!r}")
        self.thresholds = thresholds or RollbackThresholds()
        self.rel_tolerance = rel_tolerance
        self.abs_tolerance = abs_tolerance

    def summarize(
        self, observations: Iterable[Observation], *, component: str | None = None
    ) -> HealthSummary:
        """The window's health (see ``runbook.monitoring._health`` for every definition)."""
        return summarize(
            observations,
            component=component,
            rel_tolerance=self.rel_tolerance,
            abs_tolerance=self.abs_tolerance,
        )

    def _summary(
        self, observations: Iterable[Observation] | HealthSummary, component: str | None
    ) -> HealthSummary:
        if isinstance(observations, HealthSummary):  # a window already summarized (from rollups)
            return observations
        return self.summarize(observations, component=component)

    def evaluate(
        self,
        observations: Iterable[Observation] | HealthSummary,
        *,
        baseline: BaselineLike | None,
        component: str | None = None,
        memory: MemorySample | None = None,
    ) -> MonitorDecision:
        """CONTINUE, HOLD or ROLLBACK for the window, with reasons and evidence.

        ``memory``: both engines' peaks from ``memory_probe``; None: not applicable unless the
        window's observations carry memory samples.
        """
        summary = self._summary(observations, component)
        return decide(summary, baseline, self.thresholds, memory=memory)


class CriticalComponentMonitor(AutoRollbackMonitor):
    """AutoRollbackMonitor plus, for ``hedge_calculator``, hedge effectiveness >= 0.95 x baseline.

    Effectiveness comes as paired samples (``effectiveness_probe``); without them the check is
    undecided and the verdict at best HOLD. ``min_effectiveness_samples``: requests needed to decide.
    """

    def __init__(
        self,
        thresholds: RollbackThresholds | None = None,
        *,
        rel_tolerance: float = DEFAULT_REL_TOLERANCE,
        abs_tolerance: float = 0.0,
        min_effectiveness_samples: int = 100,
    ) -> None:
        super().__init__(thresholds, rel_tolerance=rel_tolerance, abs_tolerance=abs_tolerance)
        if min_effectiveness_samples < 1:
            raise BadParameter(f"min_effectiveness_samples {min_effectiveness_samples!r} must be >= 1")
        self.min_effectiveness_samples = min_effectiveness_samples

    def evaluate(
        self,
        observations: Iterable[Observation] | HealthSummary,
        *,
        baseline: BaselineLike | None,
        component: str | None = None,
        effectiveness: Sequence[EffectivenessSample] | None = None,
        memory: MemorySample | None = None,
    ) -> MonitorDecision:
        """As AutoRollbackMonitor; for hedge_calculator (or whenever samples are given) adds HE."""
        summary = self._summary(observations, component)
        extra = []
        if effectiveness is not None or summary.component == Component.HEDGE_CALCULATOR.value:
            extra.append(
                check_hedge_effectiveness(
                    effectiveness, baseline, self.thresholds, min_samples=self.min_effectiveness_samples
                )
            )
        return decide(summary, baseline, self.thresholds, extra_checks=extra, memory=memory)


def monitor_for(component: str, thresholds: RollbackThresholds | None = None) -> AutoRollbackMonitor:
    """CriticalComponentMonitor for the critical components (var_engine, hedge_calculator), else Auto."""
    if is_critical(parse_component(str(component))):
        return CriticalComponentMonitor(thresholds)
    return AutoRollbackMonitor(thresholds)


def calls_needed(thresholds: RollbackThresholds | None = None, *, errors: int = 0) -> int:
    """Candidate calls with ``errors`` calculation errors that the error-rate check needs to pass.

    max(min_observations, exact count): 4,603 at the ADR's 0.1% and 99% confidence with no error.
    Size observation windows with it (calls = rate x seconds x traffic fraction in canary).
    """
    thresholds = thresholds or RollbackThresholds()
    if not 0.0 < thresholds.max_error_rate < 1.0:
        raise BadParameter(f"max_error_rate {thresholds.max_error_rate!r} leaves no passing count")
    return max(
        thresholds.min_observations, trials_needed(errors, thresholds.max_error_rate, thresholds.confidence)
    )
