"""Gate answers from the CLI and from the Prefect UI's resume form take the same path and policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prefect.flow_runs import resume_flow_run

from flows.canary import canary
from flows.critical import critical
from runbook.cli import main
from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.domain.gates import GatePolicy, GateRequest, GateStatus
from runbook.orchestration.context import close_stores, open_store
from runbook.orchestration.testing import fast_options, prepare, wait_for_gate


@pytest.fixture
def store(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh SQLite store under a private RUNBOOK_HOME (read by the flows and by the CLI)."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    for name in ("RUNBOOK_DATABASE_URL", "RUNBOOK_SLACK_BOT_TOKEN", "RUNBOOK_SLACK_BOT_TOKEN_BLOCK",
                 "RUNBOOK_APPROVERS"):
        monkeypatch.delenv(name, raising=False)
    yield open_store()
    close_stores()


def _start(flow_fn, **kwargs) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(state=flow_fn(return_state=True, **kwargs)))
    thread.start()
    return thread, result


def _next_gate(store, after: str):
    """The next pending gate whose key differs from ``after``."""
    for _ in range(3):
        gate = wait_for_gate(store)
        if gate.request.gate_key != after:
            return gate
    raise AssertionError(f"the run stayed at gate {after}")


def test_cli_approval_resumes_the_run_and_refuses_a_stale_key(store, capsys):
    """`runbook approve` resumes the paused run; a key that is not its current pause is refused."""
    prepare(store, "market_data_provider")
    thread, result = _start(canary, component="market_data_provider", initiator="carol", steps=[50, 100],
                            **fast_options(validation=False))
    gate = wait_for_gate(store).request
    stale = gate.gate_key.replace("-a1-", "-a7-")
    GateStore(store).open_request(GateRequest(
        gate_key=stale, flow_run_id=gate.flow_run_id, component=gate.component, phase=gate.phase,
        title="an old message", critical=False, policy=GatePolicy(), initiator="carol", evidence={},
        created_at=datetime.now(UTC),
    ))
    assert main(["approve", gate.flow_run_id, "--gate", stale, "--as", "bob"]) == 1
    assert "stale" in capsys.readouterr().err

    assert main(["approve", gate.flow_run_id, "--gate", gate.gate_key, "--as", "bob", "--comment", "ok"]) == 0
    assert "resumed" in capsys.readouterr().out
    assert main(["approve", gate.flow_run_id, "--gate", gate.gate_key, "--as", "erin"]) == 0
    assert "already decided" in capsys.readouterr().out
    thread.join(timeout=120)
    assert result["state"].is_completed()
    assert store.state("market_data_provider").mode.value == "full"
    decision = GateStore(store).decision(gate.gate_key)
    assert (decision.approver, decision.channel.value, decision.comment) == ("bob", "cli", "ok")
    actions = [e.action for e in AuditLog(store).entries(component="market_data_provider")]
    assert actions.count("gate_decision_refused") == 1
    assert actions.count("gate_decision_duplicate") == 1


def test_critical_gate_refuses_the_initiator_from_the_ui_and_the_cli(store, capsys):
    """On a critical gate the initiator is refused from the UI form (re-asked under a new key) and
    the CLI; two different approvers then promote the component."""
    prepare(store, "var_engine")
    thread, result = _start(critical, component="var_engine", initiator="carol", steps=[25, 100],
                            **fast_options(validation=False))
    first = wait_for_gate(store).request
    assert first.gate_key.endswith("-a1-s1")

    resume_flow_run(first.flow_run_id, run_input={"decision": "approve", "approver": "carol"})
    retry = _next_gate(store, after=first.gate_key).request
    assert retry.gate_key.endswith("-a2-s1")
    assert GateStore(store).request(first.gate_key).status is GateStatus.SUPERSEDED
    assert GateStore(store).decision(first.gate_key) is None

    assert main(["reject", retry.flow_run_id, "--gate", retry.gate_key, "--as", "carol"]) == 1
    assert "started this run" in capsys.readouterr().err
    assert main(["approve", retry.flow_run_id, "--gate", retry.gate_key, "--as", "alice"]) == 0

    second = _next_gate(store, after=retry.gate_key).request
    assert second.gate_key.endswith("-a1-s2")
    assert main(["approve", second.flow_run_id, "--gate", second.gate_key, "--as", "alice"]) == 1
    assert "different approver" in capsys.readouterr().err
    resume_flow_run(second.flow_run_id, run_input={"decision": "approve", "approver": "bob"})

    thread.join(timeout=120)
    assert result["state"].is_completed()
    assert store.state("var_engine").mode.value == "full"
    records = GateStore(store).decisions_for_run(first.flow_run_id)
    assert [(r.approver, r.channel.value) for r in records] == [("alice", "cli"), ("bob", "prefect_ui")]
    entries = AuditLog(store).entries(component="var_engine")
    refused = [e for e in entries if e.action == "gate_decision_refused"]
    assert [(e.actor, e.evidence["channel"]) for e in refused] == [
        ("carol", "prefect_ui"), ("carol", "cli"), ("alice", "cli")]
