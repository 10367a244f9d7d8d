"""Phase plans: ADR traffic steps, parameter validation, phase order, gate policies."""

from __future__ import annotations

import math

import pytest

from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.domain.plans import (
    ADR_HISTORICAL_SCENARIOS,
    ADR_MONTE_CARLO_SCENARIOS,
    Phase,
    TrafficPlan,
    check_phase_component,
    check_phase_entry,
    check_readiness,
    default_steps,
    gate_policy,
    meets_adr_sizes,
    monitor_window_s,
    ordered_components,
    phases_for,
    step_label,
    steps_from,
    validate_count,
    validate_rate,
    validate_steps,
    validate_window,
)
from runbook.errors import BadParameter, InvalidTransition, UnknownComponent


def test_var_engine_steps_follow_adr_phase_3():
    """var_engine moves 5% -> 25% -> 100% (ADR 3.1)."""
    assert default_steps(Component.VAR_ENGINE) == (5.0, 25.0, 100.0)


def test_hedge_calculator_stops_at_fifty_percent_in_phase_3():
    """hedge_calculator goes 10% -> 50% in phase 3 and does not reach full there (ADR 3.2)."""
    plan = TrafficPlan(Component.HEDGE_CALCULATOR, default_steps(Component.HEDGE_CALCULATOR))
    assert plan.steps == (10.0, 50.0)
    assert not plan.reaches_full


@pytest.mark.parametrize(
    "component",
    [Component.MARKET_DATA_PROVIDER, Component.PERFORMANCE_ANALYZER, Component.CORRELATION_ANALYZER],
)
def test_non_critical_steps_are_valid_and_end_at_full(component):
    """Non-critical components take increasing canary steps ending at full."""
    steps = default_steps(component)
    assert validate_steps(steps) == steps
    assert TrafficPlan(component, steps).reaches_full


@pytest.mark.parametrize(
    ("steps", "named"),
    [
        ([5, 25, 25], "25"),
        ([50, 25], "25"),
        ([0, 50], "0"),
        ([5, 101], "101"),
        ([-5], "-5"),
        ([math.nan], "nan"),
    ],
)
def test_bad_steps_are_refused_naming_the_value(steps, named):
    """Steps not strictly increasing or outside (0, 100] raise BadParameter naming the value."""
    with pytest.raises(BadParameter, match=named):
        validate_steps(steps)


def test_empty_steps_are_refused():
    """An empty step list is refused."""
    with pytest.raises(BadParameter, match="empty"):
        validate_steps([])


def test_traffic_plan_refuses_bad_steps_on_construction():
    """A TrafficPlan cannot hold invalid steps."""
    with pytest.raises(BadParameter):
        TrafficPlan(Component.VAR_ENGINE, (25.0, 5.0))


def test_every_step_but_the_last_is_gated():
    """A human approves moving on after each step except the last one."""
    plan = TrafficPlan(Component.VAR_ENGINE, (5.0, 25.0, 100.0))
    assert [plan.gated(step) for step in plan.steps] == [True, True, False]
    assert plan.next_step(5.0) == 25.0
    assert plan.next_step(100.0) is None


def test_steps_from_resumes_at_the_current_step():
    """Resuming at 25% re-runs the 25% step and those above it; from shadow (0%) every step runs."""
    assert steps_from((5.0, 25.0, 50.0, 100.0), 25.0) == (25.0, 50.0, 100.0)
    assert steps_from((5.0, 25.0), 0.0) == (5.0, 25.0)


def test_phase_entry_follows_the_state_machine():
    """A canary phase needs shadow or canary; cleanup needs canary or full; refusals name the mode."""
    check_phase_entry(Phase.CANARY, Component.MARKET_DATA_PROVIDER, Mode.SHADOW)
    check_phase_entry(Phase.CLEANUP, Component.HEDGE_CALCULATOR, Mode.CANARY)
    with pytest.raises(InvalidTransition, match="'legacy'"):
        check_phase_entry(Phase.CANARY, Component.MARKET_DATA_PROVIDER, Mode.LEGACY)
    with pytest.raises(InvalidTransition, match="'retired'"):
        check_phase_entry(Phase.SHADOW, Component.VAR_ENGINE, Mode.RETIRED)


def test_traffic_phase_matches_the_tier():
    """Critical components go through the critical phase, the others through canary."""
    check_phase_component(Phase.CRITICAL, Component.VAR_ENGINE)
    check_phase_component(Phase.CANARY, Component.CORRELATION_ANALYZER)
    with pytest.raises(BadParameter, match="var_engine is critical"):
        check_phase_component(Phase.CANARY, Component.VAR_ENGINE)
    with pytest.raises(BadParameter, match="market_data_provider is non-critical"):
        check_phase_component(Phase.CRITICAL, Component.MARKET_DATA_PROVIDER)


def test_monitor_window_covers_every_window_observed():
    """The monitor looks back at least over all the windows observed so far."""
    assert monitor_window_s(2.0, 3) >= 6.0


@pytest.mark.parametrize("seconds", [0, -1, math.inf, math.nan])
def test_windows_must_be_positive_and_finite(seconds):
    """A zero, negative or infinite window is refused naming the parameter."""
    with pytest.raises(BadParameter, match="window_s"):
        validate_window("window_s", seconds)


def test_counts_and_rates_are_checked():
    """Counts must be integers >= minimum, rates positive."""
    assert validate_count("historical", 2_000) == 2_000
    with pytest.raises(BadParameter, match="historical 0"):
        validate_count("historical", 0)
    with pytest.raises(BadParameter, match="True"):
        validate_count("historical", True)
    assert validate_rate("rate", 50.0) == 50.0
    with pytest.raises(BadParameter, match="rate 0"):
        validate_rate("rate", 0.0)


def test_adr_sizes():
    """10,000 historical + 100,000 Monte Carlo scenarios meet the ADR; fewer do not."""
    assert meets_adr_sizes(ADR_HISTORICAL_SCENARIOS, ADR_MONTE_CARLO_SCENARIOS)
    assert not meets_adr_sizes(2_000, 20_000)


def test_ordered_components_follow_adr_order_and_deduplicate():
    """Components come back in ADR order whatever order they were named in."""
    got = ordered_components(["hedge_calculator", "market_data_provider", "var_engine", "var_engine"])
    assert got == [Component.MARKET_DATA_PROVIDER, Component.VAR_ENGINE, Component.HEDGE_CALCULATOR]


def test_ordered_components_refuses_unknown_names():
    """An unknown component name is refused naming it."""
    with pytest.raises(UnknownComponent, match="risk_engine"):
        ordered_components(["risk_engine"])


def test_phases_depend_on_the_current_mode():
    """A fresh component runs every phase; one in full only cleans up; a retired one has nothing left."""
    assert phases_for(Component.MARKET_DATA_PROVIDER, Mode.LEGACY) == (
        Phase.READINESS, Phase.SHADOW, Phase.CANARY, Phase.CLEANUP,
    )
    assert phases_for(Component.VAR_ENGINE, Mode.ROLLED_BACK) == (
        Phase.READINESS, Phase.SHADOW, Phase.CRITICAL, Phase.CLEANUP,
    )
    assert phases_for(Component.HEDGE_CALCULATOR, Mode.CANARY) == (
        Phase.READINESS, Phase.CRITICAL, Phase.CLEANUP,
    )
    assert phases_for(Component.VAR_ENGINE, Mode.FULL) == (Phase.READINESS, Phase.CLEANUP)
    assert phases_for(Component.VAR_ENGINE, Mode.RETIRED) == ()


def test_step_labels_are_key_safe():
    """Step labels contain no dots (they are part of gate keys)."""
    assert step_label(5.0) == "canary-5"
    assert step_label(12.5) == "canary-12_5"
    assert step_label(100.0) == "full"


def test_critical_gate_policy_needs_two_approvers_not_the_initiator():
    """Critical components need two approvers and forbid the initiator; others need one."""
    critical = gate_policy(Component.HEDGE_CALCULATOR, {})
    assert (critical.required_approvals, critical.forbid_initiator) == (2, True)
    standard = gate_policy(Component.MARKET_DATA_PROVIDER, {})
    assert (standard.required_approvals, standard.forbid_initiator) == (1, False)


def test_typed_names_count_on_standard_gates_only_by_default():
    """By default critical gates need a verified channel and standard gates do not; config widens or
    narrows that."""
    from runbook.domain.gates import UnverifiedChannels

    assert gate_policy(Component.VAR_ENGINE, {}).verified_only is True
    assert gate_policy(Component.MARKET_DATA_PROVIDER, {}).verified_only is False
    assert gate_policy(Component.VAR_ENGINE, {}, UnverifiedChannels.ALL).verified_only is False
    assert gate_policy(Component.MARKET_DATA_PROVIDER, {}, UnverifiedChannels.NONE).verified_only is True


def test_gate_policy_allow_list_prefers_component_over_tier():
    """A component's own allow-list wins over its tier's; the tier's applies otherwise."""
    approvers = {"var_engine": ["quant-lead"], "critical": ["risk-lead", "cro"], "standard": ["sre"]}
    assert gate_policy(Component.VAR_ENGINE, approvers).allowed_approvers == {"quant-lead"}
    assert gate_policy(Component.HEDGE_CALCULATOR, approvers).allowed_approvers == {"risk-lead", "cro"}
    assert gate_policy(Component.PERFORMANCE_ANALYZER, approvers).allowed_approvers == {"sre"}


def test_every_phase_after_readiness_needs_a_baseline():
    """Phases 1-4 refuse to start without the legacy baseline phase 0 records; readiness itself may."""
    check_readiness(Phase.READINESS, Component.VAR_ENGINE, has_baseline=False)
    check_readiness(Phase.SHADOW, Component.VAR_ENGINE, has_baseline=True)
    with pytest.raises(InvalidTransition, match="readiness phase"):
        check_readiness(Phase.CANARY, Component.MARKET_DATA_PROVIDER, has_baseline=False)
