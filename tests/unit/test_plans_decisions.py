"""Pure phase decisions: checks before humans, monitor verdicts, gate answers."""

from __future__ import annotations

import pytest

from runbook.domain.decisions import (
    CheckResult,
    GateOutcomePolicy,
    MonitorEvidence,
    MonitorPolicy,
    NextAction,
    decide_checks,
    decide_gate,
    decide_monitor,
)
from runbook.domain.gates import Decision
from runbook.domain.plans import GateFallback
from runbook.errors import BadParameter


def test_all_checks_passing_asks_a_human():
    """Only when every automated check passed is a human asked."""
    checks = [CheckResult("validation", True), CheckResult("quality:scenarios", True)]
    assert decide_checks(checks).action is NextAction.ASK_APPROVAL


def test_a_failing_check_stops_before_any_human_and_names_the_check():
    """The first failing check stops the phase (held) and is named with its detail."""
    checks = [
        CheckResult("validation", True),
        CheckResult("quality:engine_outputs", False, "3 rows with negative var"),
        CheckResult("monitor", False, "error rate"),
    ]
    decision = decide_checks(checks)
    assert decision.action is NextAction.HOLD
    assert decision.stops
    assert decision.check == "quality:engine_outputs"
    assert "negative var" in decision.reason


def test_no_checks_is_not_evidence():
    """A gate without any automated evidence is refused."""
    with pytest.raises(BadParameter):
        decide_checks([])


def test_monitor_rollback_verdict_stops_with_rollback():
    """A rollback verdict stops the phase as rolled back, carrying the monitor's reasons."""
    decision = decide_monitor(MonitorEvidence("ROLLBACK", ("error rate 0.9% > 0.1%",)), MonitorPolicy())
    assert decision.action is NextAction.ROLLBACK
    assert decision.check == "monitor"
    assert "error rate" in decision.reason


def test_monitor_hold_extends_the_window_until_extensions_run_out():
    """HOLD observes again while extensions remain, then holds the component."""
    policy = MonitorPolicy(max_extensions=2)
    assert decide_monitor(MonitorEvidence("hold", (), 0), policy).action is NextAction.EXTEND_WINDOW
    assert decide_monitor(MonitorEvidence("hold", (), 1), policy).action is NextAction.EXTEND_WINDOW
    final = decide_monitor(MonitorEvidence("hold", ("12 calls < 200",), 2), policy)
    assert final.action is NextAction.HOLD
    assert "12 calls" in final.reason


def test_monitor_continue_proceeds():
    """CONTINUE proceeds."""
    assert decide_monitor(MonitorEvidence("continue"), MonitorPolicy()).action is NextAction.PROCEED


def test_unknown_monitor_verdict_is_refused():
    """An unknown verdict is an error, not a silent pass."""
    with pytest.raises(BadParameter, match="maybe"):
        decide_monitor(MonitorEvidence("maybe"), MonitorPolicy())


def test_negative_extensions_refused():
    """max_extensions below zero is refused."""
    with pytest.raises(BadParameter):
        MonitorPolicy(max_extensions=-1)


def test_gate_approve_proceeds():
    """An approved gate proceeds."""
    assert decide_gate(Decision.APPROVE, GateOutcomePolicy()).action is NextAction.PROCEED


@pytest.mark.parametrize(
    ("decision", "policy", "expected"),
    [
        (Decision.REJECT, GateOutcomePolicy(on_reject=GateFallback.ROLLBACK), NextAction.ROLLBACK),
        (Decision.REJECT, GateOutcomePolicy(on_reject=GateFallback.HOLD), NextAction.HOLD),
        (Decision.TIMEOUT, GateOutcomePolicy(on_timeout=GateFallback.HOLD), NextAction.HOLD),
        (Decision.TIMEOUT, GateOutcomePolicy(on_timeout=GateFallback.ROLLBACK), NextAction.ROLLBACK),
    ],
)
def test_reject_and_timeout_never_promote(decision, policy, expected):
    """Reject and timeout hold or roll back per the policy, and name the gate."""
    outcome = decide_gate(decision, policy, gate="canary-25")
    assert outcome.action is expected
    assert outcome.check == "canary-25"
