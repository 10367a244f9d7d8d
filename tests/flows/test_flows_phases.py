"""Phase flows end to end under the session's Prefect server: promotion, rejection, timeout,
injected defects, the one-phase-per-component lock and parameter checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from flows.canary import canary
from flows.critical import critical
from flows.migrate import migrate
from flows.shadow import shadow
from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.control.safety import ProductionSafetyManager
from runbook.domain.gates import Channel, Decision
from runbook.domain.plans import GateFallback
from runbook.orchestration.approvers import Answer, BackgroundApprover, approve_as_demo
from runbook.orchestration.context import close_stores, open_store
from runbook.orchestration.testing import FAST_THRESHOLDS, fast_options, prepare, wait_for_gate


@pytest.fixture
def store(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh SQLite store under a private RUNBOOK_HOME, console notifications only."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    for name in ("RUNBOOK_DATABASE_URL", "RUNBOOK_SLACK_BOT_TOKEN", "RUNBOOK_SLACK_BOT_TOKEN_BLOCK",
                 "RUNBOOK_APPROVERS"):
        monkeypatch.delenv(name, raising=False)
    # Drills: typed names start critical phases and answer their gates (identity has its own tests).
    monkeypatch.setenv("RUNBOOK_UNVERIFIED_CHANNELS", "all")
    yield open_store()
    close_stores()


def _actions(store, component: str) -> list[str]:
    return [entry.action for entry in AuditLog(store).entries(component=component)]


def _reject_as(name: str):
    return lambda request, used: Answer(Decision.REJECT, name, "not convinced")


def test_migrate_promotes_a_component_to_retired(store):
    """migrate runs readiness, shadow, canary and cleanup; demo approvals take it to retired."""
    with BackgroundApprover(store, approve_as_demo()) as approver:
        rows = migrate(initiator="carol", component="market_data_provider", **fast_options())
    assert [(r["component"], r["status"], r["mode"]) for r in rows] == [
        ("market_data_provider", "completed", "retired")
    ]
    actions = _actions(store, "market_data_provider")
    for expected in ("enable_shadow_mode", "enable_canary_deployment", "promote", "retire", "gate_approve"):
        assert expected in actions
    # shadow + three canary steps + retirement: five gates, each approved once by a demo approver
    assert [answer[1:] for answer in approver.answered] == [("approve", "demo-approver-1")] * 5
    approvals = [e for e in AuditLog(store).entries(component="market_data_provider")
                 if e.action == "gate_approve"]
    assert {(e.actor, e.evidence["channel"]) for e in approvals} == {("demo-approver-1", "demo")}
    assert store.state("market_data_provider").mode.value == "retired"


def test_rejected_gate_rolls_back_and_records_why(store, capsys):
    """A rejection stops the phase; with on_reject=rollback the component is back on legacy, the
    rollback is announced as a human rejection's, not as an automatic one, and the run's log in
    Prefect ends with one line saying why, no traceback."""
    prepare(store, "performance_analyzer")
    with BackgroundApprover(store, _reject_as("dave"), channel=Channel.CLI):
        state = canary(component="performance_analyzer", initiator="carol", steps=[50, 100],
                       **fast_options(validation=False, on_reject=GateFallback.ROLLBACK), return_state=True)
    assert state.is_failed()
    assert "rejected" in (state.message or "")
    assert store.state("performance_analyzer").mode.value == "rolled_back"
    stopped = [e for e in AuditLog(store).entries(component="performance_analyzer")
               if e.action == "phase_stopped"]
    assert stopped[-1].evidence["kind"] == "gate_rejected"
    assert stopped[-1].evidence["status"] == "rolled_back"
    assert "gate_reject" in _actions(store, "performance_analyzer")
    announced = capsys.readouterr().out
    assert "Rollback after a human rejection: performance_analyzer" in announced
    assert "Automatic rollback" not in announced
    logs = _run_log(state.state_details.flow_run_id)
    assert [line for line in logs if line.startswith("Stopped: ")] == [
        "Stopped: performance_analyzer canary stopped (rolled_back) by canary-50: gate canary-50 rejected"
    ]
    assert not [line for line in logs if "Traceback" in line]


def _run_log(flow_run_id) -> list[str]:
    """The messages of a flow run's log in Prefect, as the UI shows them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def test_timed_out_gate_holds_the_last_safe_state(store):
    """Nobody answers: the gate records a TIMEOUT decision and the component stays at its step."""
    prepare(store, "correlation_analyzer")
    state = canary(component="correlation_analyzer", initiator="carol", steps=[25, 100],
                   **fast_options(validation=False, timeout_s=3, on_timeout=GateFallback.HOLD),
                   return_state=True)
    assert state.is_failed()
    current = store.state("correlation_analyzer")
    assert (current.mode.value, current.traffic_percent) == ("canary", 25.0)
    entries = AuditLog(store).entries(component="correlation_analyzer")
    timeout = [e for e in entries if e.action == "gate_timeout"]
    assert len(timeout) == 1
    decision = GateStore(store).decision(timeout[0].evidence["gate_key"])
    assert decision is not None
    assert decision.decision is Decision.TIMEOUT
    assert [e for e in entries if e.action == "phase_stopped"][-1].evidence["kind"] == "gate_timed_out"


def test_defect_is_caught_by_the_validator_before_anyone_is_asked(store):
    """A candidate 0.01% off (small_bias) fails offline validation in shadow: held, no gate opened."""
    prepare(store, "var_engine", shadow=False)
    state = shadow(component="var_engine", initiator="carol", inject_fault="small_bias",
                   **fast_options(), return_state=True)
    assert state.is_failed()
    stopped = [e for e in AuditLog(store).entries(component="var_engine") if e.action == "phase_stopped"][-1]
    assert (stopped.evidence["check"], stopped.evidence["status"]) == ("validation", "held")
    assert not [e for e in AuditLog(store).entries(component="var_engine") if e.action.startswith("gate_")]
    assert store.state("var_engine").mode.value == "shadow"


def test_latency_defect_is_rolled_back_in_the_first_canary_window(store):
    """A 4x slower candidate is rolled back by the monitor after one window, before any gate.

    The first step is 25%: at a few percent, microsecond engines pay a cold-cache cost that the
    fast thresholds allow for; here the limit is 2x legacy, which the honest candidate meets.
    """
    prepare(store, "var_engine")
    limits = FAST_THRESHOLDS.model_copy(update={"max_latency_ratio": 2.0})
    options = {**fast_options(validation=False, window_s=2.0, timeout_s=20), "thresholds": limits}
    state = critical(component="var_engine", initiator="carol", steps=[25, 100], inject_fault="slow",
                     **options, return_state=True)
    assert state.is_failed()
    assert store.state("var_engine").mode.value == "rolled_back"
    entries = AuditLog(store).entries(component="var_engine")
    verdicts = [e for e in entries if e.action == "monitor_verdict"]
    assert len(verdicts) == 1
    assert "latency" in verdicts[0].reason
    stopped = [e for e in entries if e.action == "phase_stopped"][-1]
    assert stopped.evidence["kind"] == "monitor_rollback"
    assert not [e for e in entries if e.action.startswith("gate_")]


def test_second_phase_is_refused_while_the_first_waits_at_a_gate(store):
    """While a canary is paused at its gate, another phase on the same component is refused."""
    prepare(store, "market_data_provider")
    first: dict[str, object] = {}
    runner = threading.Thread(target=lambda: first.update(state=canary(
        component="market_data_provider", initiator="carol", steps=[5, 100],
        **fast_options(validation=False), return_state=True)))
    runner.start()
    try:
        gate = wait_for_gate(store)
        epoch = store.state("market_data_provider").epoch
        second = canary(component="market_data_provider", initiator="erin", steps=[5, 100],
                        **fast_options(validation=False), return_state=True)
        assert second.is_failed()
        assert "busy" in (second.message or "")
        assert store.state("market_data_provider").epoch == epoch
    finally:
        from runbook.approvals import submit_decision
        from runbook.orchestration.resume import PrefectResumer

        submit_decision(store, flow_run_id=gate.request.flow_run_id, gate_key=gate.request.gate_key,
                        decision=Decision.REJECT, approver="dave", channel=Channel.CLI, comment="test over",
                        resumer=PrefectResumer())
        runner.join(timeout=120)
    assert first["state"].is_failed()
    starts = [e for e in AuditLog(store).entries(component="market_data_provider")
              if e.action == "phase_started"]
    assert len(starts) == 1


def test_phase_refused_before_readiness_recorded_a_baseline(store):
    """A canary cannot start before phase 0 measured the legacy baseline; nothing is written."""
    ProductionSafetyManager(store, actor="test").enable_shadow_mode("correlation_analyzer", reason="setup")
    before = AuditLog(store).entries()
    state = canary(component="correlation_analyzer", initiator="carol", **fast_options(validation=False),
                   return_state=True)
    assert state.is_failed()
    assert "run the readiness phase" in (state.message or "")
    assert AuditLog(store).entries() == before


@pytest.mark.parametrize(
    ("flow_fn", "kwargs", "named"),
    [
        (canary, {"component": "market_data_provider", "steps": [50, 25]}, "strictly increase"),
        (canary, {"component": "market_data_provider", "steps": [5, 150]}, "150"),
        (canary, {"component": "var_engine"}, "var_engine is critical"),
        (critical, {"component": "hedge_calculator", "thresholds": {"max_error_rate": 2.0}},
         "max_error_rate 2.0"),
        (critical, {"component": "hedge_calculator", "observation": {"window_s": 0}}, "window_s 0"),
        (shadow, {"component": "var_engine", "inject_fault": "no_such_fault"}, "no_such_fault"),
        (shadow, {"component": "risk_engine"},
         "unknown component 'risk_engine'; allowed: market_data_provider"),
    ],
)
def test_invalid_parameters_fail_the_run_before_anything_moves(store, flow_fn, kwargs, named):
    """A bad parameter fails the run at its start, naming the value; no state or audit row is written."""
    state = flow_fn(initiator="carol", return_state=True, **kwargs)
    assert state.is_failed()
    assert named in (state.message or "")
    assert AuditLog(store).entries() == []
    assert {s.mode.value for s in store.states().values()} == {"legacy"}
