"""Phase plans of ADR-0011: which phases a component goes through, its traffic steps, gate policies.

Pure values and checks; the flows read them and the decisions in ``runbook.domain.decisions`` act
on what the checks found. Traffic steps are percentages of routing keys served by the candidate:
a step of 100 means ``full``.

    non-critical components: shadow -> canary 5% -> 25% -> 50% -> full      (phase 2)
    var_engine:              shadow -> canary 5% -> 25% -> full              (phase 3)
    hedge_calculator:        shadow -> canary 10% -> 50% (cleanup: -> full)  (phase 3)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from runbook.domain.catalog import entry_of
from runbook.domain.components import (
    AnyComponent,
    Component,
    catalog_components,
    is_critical,
    parse_component,
)
from runbook.domain.gates import GatePolicy, UnverifiedChannels
from runbook.domain.modes import Mode
from runbook.errors import BadParameter, InvalidTransition

FULL_PERCENT = 100.0

# ADR-0011 phase 1.3 and "Mathematical Accuracy Guarantee": the minimum offline validation sizes.
ADR_HISTORICAL_SCENARIOS = 10_000
ADR_MONTE_CARLO_SCENARIOS = 100_000

DEFAULT_STEPS: dict[Component, tuple[float, ...]] = {
    Component.MARKET_DATA_PROVIDER: (5.0, 25.0, 50.0, FULL_PERCENT),
    Component.PERFORMANCE_ANALYZER: (5.0, 25.0, 50.0, FULL_PERCENT),
    Component.CORRELATION_ANALYZER: (5.0, 25.0, 50.0, FULL_PERCENT),
    Component.VAR_ENGINE: (5.0, 25.0, FULL_PERCENT),
    # ADR phase 3.2 stops the hedge calculator at 50%; phase 4 (cleanup) takes it to 100%.
    Component.HEDGE_CALCULATOR: (10.0, 50.0),
}


class Phase(StrEnum):
    """The ADR's phases, as flows."""

    READINESS = "readiness"
    SHADOW = "shadow"
    CANARY = "canary"
    CRITICAL = "critical"
    CLEANUP = "cleanup"


class GateFallback(StrEnum):
    """What a rejected or timed-out gate does to the component."""

    HOLD = "hold"  # stay in the last state the checks found healthy
    ROLLBACK = "rollback"  # back to legacy at once


def ordered_components(names: Iterable[str]) -> list[AnyComponent]:
    """The named components, deduplicated, in catalog order (the ADR's five first, lowest risk first)."""
    wanted = {parse_component(str(name)) for name in names}
    return [component for component in catalog_components() if component in wanted]


def traffic_phase(component: AnyComponent) -> Phase:
    """The phase that shifts ``component``'s traffic: canary (phase 2) or critical (phase 3)."""
    return Phase.CRITICAL if is_critical(component) else Phase.CANARY


def phases_for(component: AnyComponent, mode: Mode) -> tuple[Phase, ...]:
    """The phases still to run for ``component`` currently in ``mode``, in order.

    Readiness always runs first (it is cheap and refreshes the baselines); a rolled-back
    component re-enters through shadow, the only way back the state machine allows.
    """
    rest: dict[Mode, tuple[Phase, ...]] = {
        Mode.LEGACY: (Phase.SHADOW, traffic_phase(component), Phase.CLEANUP),
        Mode.ROLLED_BACK: (Phase.SHADOW, traffic_phase(component), Phase.CLEANUP),
        Mode.SHADOW: (traffic_phase(component), Phase.CLEANUP),
        Mode.CANARY: (traffic_phase(component), Phase.CLEANUP),
        Mode.FULL: (Phase.CLEANUP,),
        Mode.RETIRED: (),
    }
    remaining = rest[mode]
    return (Phase.READINESS, *remaining) if remaining else ()


def default_steps(component: AnyComponent) -> tuple[float, ...]:
    """The traffic steps (percent) for ``component``: the catalog's ``steps``, else the ADR's
    (the five's own; other components by tier, as the ADR steps its critical and other engines)."""
    steps = entry_of(str(component)).steps
    if steps:
        return steps
    if str(component) in DEFAULT_STEPS:
        return DEFAULT_STEPS[Component(str(component))]
    return DEFAULT_STEPS[Component.VAR_ENGINE if is_critical(component) else Component.MARKET_DATA_PROVIDER]


def validate_steps(steps: Sequence[float]) -> tuple[float, ...]:
    """``steps`` as a tuple if each is in (0, 100] and they strictly increase, else ``BadParameter``."""
    if not steps:
        raise BadParameter("traffic steps are empty; give at least one percent in (0, 100]")
    for step in steps:
        if not (math.isfinite(step) and 0.0 < step <= FULL_PERCENT):
            raise BadParameter(f"traffic step {step!r} is outside (0, 100] percent")
    for before, after in itertools.pairwise(steps):
        if after <= before:
            raise BadParameter(
                f"traffic steps must strictly increase; {after!r} follows {before!r} in {list(steps)!r}"
            )
    return tuple(float(step) for step in steps)


def steps_from(steps: Sequence[float], current_percent: float) -> tuple[float, ...]:
    """The steps a phase still runs for a component serving ``current_percent``.

    A step already reached is observed and gated again: a held canary resumes where it stopped.
    """
    return tuple(step for step in steps if step >= current_percent)


# Modes a component must be in for a phase to start (the state machine decides the rest).
PHASE_ENTRY: dict[Phase, frozenset[Mode]] = {
    Phase.SHADOW: frozenset({Mode.LEGACY, Mode.ROLLED_BACK, Mode.SHADOW}),
    Phase.CANARY: frozenset({Mode.SHADOW, Mode.CANARY}),
    Phase.CRITICAL: frozenset({Mode.SHADOW, Mode.CANARY}),
    Phase.CLEANUP: frozenset({Mode.CANARY, Mode.FULL}),
}


def check_phase_entry(phase: Phase, component: AnyComponent, mode: Mode) -> None:
    """``InvalidTransition`` naming the mode and what the phase needs, unless ``phase`` can start."""
    allowed = PHASE_ENTRY.get(phase)
    if allowed is not None and mode not in allowed:
        needed = ", ".join(sorted(m.value for m in allowed))
        raise InvalidTransition(
            f"the {phase.value} phase cannot start: {component.value} is in mode {mode.value!r}; "
            f"it needs one of: {needed}"
        )


def check_readiness(phase: Phase, component: AnyComponent, *, has_baseline: bool) -> None:
    """``InvalidTransition`` when a phase after readiness starts before phase 0 recorded a baseline."""
    if phase is not Phase.READINESS and not has_baseline:
        raise InvalidTransition(
            f"the {phase.value} phase cannot start: {component.value} has no legacy baseline; "
            "run the readiness phase (phase 0) first"
        )


def check_phase_component(phase: Phase, component: AnyComponent) -> None:
    """``BadParameter`` when ``component`` belongs to the other traffic phase (canary vs critical)."""
    if phase in (Phase.CANARY, Phase.CRITICAL) and traffic_phase(component) is not phase:
        tier = "critical" if is_critical(component) else "non-critical"
        raise BadParameter(
            f"{component.value} is {tier}: its traffic phase is {traffic_phase(component).value!r}, "
            f"not {phase.value!r}"
        )


def window_suite(percent: float) -> str | None:
    """The data-quality suite for a traffic step's observations: ``canary_window`` while both
    implementations serve (it expects both routes), none at full (the monitor covers it)."""
    return "canary_window" if percent < FULL_PERCENT else None


def needs_promotion(mode: Mode) -> bool:
    """True when cleanup must first take a canary (hedge_calculator at 50%) to full."""
    return mode is Mode.CANARY


def monitor_window_s(window_s: float, windows: int) -> float:
    """Seconds a monitor looks back after ``windows`` observation windows of ``window_s`` each.

    Generous on purpose: the monitor never looks before the component's last state change.
    """
    return window_s * windows + 60.0


def validate_window(name: str, seconds: float) -> float:
    """A positive, finite duration in seconds, else ``BadParameter`` naming the parameter."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise BadParameter(f"{name} {seconds!r} must be a positive number of seconds")
    return float(seconds)


def validate_count(name: str, value: int, *, minimum: int = 1) -> int:
    """An integer count of at least ``minimum``, else ``BadParameter`` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadParameter(f"{name} {value!r} must be an integer >= {minimum}")
    return value


def validate_rate(name: str, per_second: float) -> float:
    """A positive, finite rate in calls per second, else ``BadParameter``."""
    if not (math.isfinite(per_second) and per_second > 0):
        raise BadParameter(f"{name} {per_second!r} must be a positive number of calls per second")
    return float(per_second)


def meets_adr_sizes(historical: int, monte_carlo: int) -> bool:
    """True when an offline validation is as large as ADR-0011 asks (10,000 + 100,000 scenarios)."""
    return historical >= ADR_HISTORICAL_SCENARIOS and monte_carlo >= ADR_MONTE_CARLO_SCENARIOS


def step_label(percent: float) -> str:
    """A short, key-safe name for a traffic step: ``canary-5``, ``canary-12_5``, ``full``."""
    if percent >= FULL_PERCENT:
        return "full"
    return "canary-" + f"{percent:g}".replace(".", "_")


def gate_policy(
    component: AnyComponent,
    approvers: Mapping[str, Sequence[str]],
    unverified: UnverifiedChannels = UnverifiedChannels.STANDARD,
) -> GatePolicy:
    """Who may decide ``component``'s gates, and through which channels.

    Critical components need two different approvers, neither the run's initiator. The allow-list
    is the component's own entry in ``approvers``, else its tier's (``critical`` / ``standard``),
    else anyone. Typed names count only where ``unverified`` allows them (standard gates by default).
    """
    critical = is_critical(component)
    tier = "critical" if critical else "standard"
    allowed = approvers.get(component.value) or approvers.get(tier) or ()
    return GatePolicy(
        required_approvals=2 if critical else 1,
        allowed_approvers=frozenset(allowed),
        forbid_initiator=critical,
        verified_only=not UnverifiedChannels(unverified).allowed_on(critical=critical),
    )


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    """One component's traffic steps for its traffic phase, validated.

    ``steps`` in percent, strictly increasing in (0, 100]; the last step may stop short of 100.
    """

    component: AnyComponent
    steps: tuple[float, ...]

    def __post_init__(self) -> None:
        validate_steps(self.steps)

    @property
    def reaches_full(self) -> bool:
        return self.steps[-1] >= FULL_PERCENT

    def gated(self, step: float) -> bool:
        """True if a human approves moving on after ``step`` (every step but the last)."""
        return step != self.steps[-1]

    def next_step(self, step: float) -> float | None:
        """The step after ``step``, or None after the last."""
        index = self.steps.index(step)
        return self.steps[index + 1] if index + 1 < len(self.steps) else None
