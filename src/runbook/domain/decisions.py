"""Pure decisions the phase flows act on: ``decide_*(evidence, policy) -> PhaseDecision``.

A flow gathers evidence with tasks (validation report, data-quality results, monitor verdict,
gate answer), asks one of these functions what to do next, and does it. Nothing here touches
a store, Prefect or Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from runbook.domain.gates import Decision
from runbook.domain.plans import GateFallback
from runbook.domain.verdicts import Verdict
from runbook.errors import BadParameter


class NextAction(StrEnum):
    """What the flow does next."""

    ASK_APPROVAL = "ask_approval"  # automated checks passed: a human decides
    PROCEED = "proceed"  # go on (a gate approved, or a step needs no gate)
    EXTEND_WINDOW = "extend_window"  # not enough observations yet: observe again
    HOLD = "hold"  # stop here, component stays where it is (last safe state)
    ROLLBACK = "rollback"  # stop here, component back to legacy


STOPPING = frozenset({NextAction.HOLD, NextAction.ROLLBACK})


class StopKind(StrEnum):
    """Why a phase stopped (empty while it goes on)."""

    NONE = ""
    CHECK_FAILED = "check_failed"  # an offline check (validation, data quality) failed
    MONITOR_ROLLBACK = "monitor_rollback"  # the monitor rolled the component back
    MONITOR_HOLD = "monitor_hold"  # the monitor never saw enough observations to decide
    GATE_REJECTED = "gate_rejected"
    GATE_TIMED_OUT = "gate_timed_out"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One automated check's outcome, as shown in a gate's evidence.

    ``name`` says which check (``validation``, ``quality:scenarios``, ``monitor``...);
    ``detail`` is one line a person can act on.
    """

    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PhaseDecision:
    """The next action and, when the flow stops, the check that stopped it and why."""

    action: NextAction
    check: str = ""
    reason: str = ""
    kind: StopKind = StopKind.NONE

    @property
    def stops(self) -> bool:
        return self.action in STOPPING


@dataclass(frozen=True, slots=True)
class MonitorPolicy:
    """How a flow treats a monitor's HOLD (too few observations): observe up to ``max_extensions``
    more windows, then stop with the component held where it is."""

    max_extensions: int = 2

    def __post_init__(self) -> None:
        if self.max_extensions < 0:
            raise BadParameter(f"max_extensions {self.max_extensions!r} must be >= 0")


@dataclass(frozen=True, slots=True)
class GateOutcomePolicy:
    """What a gate's answer does: approve proceeds; reject and timeout fall back as configured."""

    on_reject: GateFallback = GateFallback.ROLLBACK
    on_timeout: GateFallback = GateFallback.HOLD


@dataclass(frozen=True, slots=True)
class MonitorEvidence:
    """A monitor verdict and its reasons (a verdict's word, e.g. "hold", is read as that verdict)."""

    verdict: Verdict | str
    reasons: tuple[str, ...] = field(default_factory=tuple)
    extensions_used: int = 0


def decide_checks(checks: Sequence[CheckResult]) -> PhaseDecision:
    """Ask a human only when every automated check passed; else stop on the first failing check.

    A failing offline check leaves production untouched, so the component is held (not rolled
    back): the flows that move traffic roll back through the monitor instead.
    """
    if not checks:
        raise BadParameter("no automated checks ran; a gate needs evidence before a human is asked")
    for check in checks:
        if not check.passed:
            return PhaseDecision(NextAction.HOLD, check.name, check.detail, StopKind.CHECK_FAILED)
    return PhaseDecision(NextAction.ASK_APPROVAL)


def decide_monitor(evidence: MonitorEvidence, policy: MonitorPolicy) -> PhaseDecision:
    """Act on a monitor verdict.

    rollback -> ROLLBACK (the monitor already rolled the component back); hold -> observe again
    while extensions remain, then HOLD; continue -> PROCEED.
    """
    verdict = _verdict(evidence.verdict)
    reason = "; ".join(evidence.reasons)
    if verdict is Verdict.ROLLBACK:
        return PhaseDecision(
            NextAction.ROLLBACK, "monitor", reason or "verdict rollback", StopKind.MONITOR_ROLLBACK
        )
    if verdict is Verdict.HOLD:
        if evidence.extensions_used < policy.max_extensions:
            return PhaseDecision(NextAction.EXTEND_WINDOW, check="monitor", reason=reason)
        return PhaseDecision(
            NextAction.HOLD,
            "monitor",
            reason or f"not enough observations after {evidence.extensions_used} extra windows",
            StopKind.MONITOR_HOLD,
        )
    return PhaseDecision(NextAction.PROCEED)


def _verdict(value: Verdict | str) -> Verdict:
    try:
        return Verdict(str(value).lower())
    except ValueError:
        raise BadParameter(f"monitor verdict {value!r} is not one of continue, hold, rollback") from None


def decide_gate(decision: Decision, policy: GateOutcomePolicy, *, gate: str = "gate") -> PhaseDecision:
    """Approve proceeds; reject and timeout hold or roll back per ``policy``. Never promotes otherwise."""
    if decision is Decision.APPROVE:
        return PhaseDecision(NextAction.PROCEED)
    rejected = decision is Decision.REJECT
    fallback = policy.on_reject if rejected else policy.on_timeout
    action = NextAction.ROLLBACK if fallback is GateFallback.ROLLBACK else NextAction.HOLD
    kind = StopKind.GATE_REJECTED if rejected else StopKind.GATE_TIMED_OUT
    return PhaseDecision(action, gate, f"gate {gate} {'rejected' if rejected else 'timed out'}", kind)
