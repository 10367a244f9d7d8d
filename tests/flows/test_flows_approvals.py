"""Gate answers from the CLI and from the Prefect UI's resume form take the same path and policy."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prefect.flow_runs import resume_flow_run

from flows.canary import canary
from flows.critical import critical
from runbook.cli import main
from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.domain.gates import GatePolicy, GateRequest
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


def _description(flow_run_id: str) -> str:
    """The resume form's description of the run's current pause, as the Prefect UI shows it."""
    from prefect.client.orchestration import get_client
    from prefect.input.actions import read_flow_run_input

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    return read_flow_run_input(state.state_details.run_input_keyset["description"], flow_run_id=flow_run_id)


def _warnings(flow_run_id: str, *, containing: str, wait_s: float = 20.0) -> list[str]:
    """WARNING lines of the run's Prefect log that contain ``containing`` (logs arrive in batches)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + wait_s
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        found = [log.message for log in logs if log.level == logging.WARNING and containing in log.message]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_critical_gate_counts_only_verified_identities(store, ssh_signers, monkeypatch, capsys):
    """A critical phase started with alice's signature: typed names (CLI --as, the resume form) are
    refused, visibly (run log WARNING, next description starts with the reason); alice's own signed
    approval is refused; bob's and dave's signed approvals promote the component."""
    from runbook.initiators import signed_start
    from runbook.signatures import new_nonce, sign, start_message

    monkeypatch.setenv("RUNBOOK_ALLOWED_SIGNERS", str(ssh_signers["allowed"]))
    prepare(store, "var_engine")
    nonce, at = new_nonce(), int(time.time())
    signed = sign(start_message(phase="critical", component="var_engine", nonce=nonce, at=at),
                  key=ssh_signers["alice"], nonce=nonce, at=at)
    ticket = signed_start(store, signed, phase="critical", component="var_engine",
                          allowed_signers=ssh_signers["allowed"])
    thread, result = _start(critical, component="var_engine", initiator="typed-carol", steps=[25, 100],
                            start_ticket=ticket, **fast_options(validation=False))
    first = wait_for_gate(store).request
    assert (first.initiator, first.policy.verified_only) == ("alice@firm", True)

    assert main(["approve", first.flow_run_id, "--gate", first.gate_key, "--as", "bob"]) == 1
    assert "verified identity" in capsys.readouterr().err
    resume_flow_run(first.flow_run_id, run_input={"decision": "approve", "approver": "bob"})
    retry = _next_gate(store, after=first.gate_key).request
    assert retry.gate_key.endswith("-a2-s1")
    assert _description(retry.flow_run_id).startswith("**Refused: this gate needs a verified identity")
    assert _warnings(retry.flow_run_id, containing="verified identity")

    signed_approve = ["approve", retry.flow_run_id, "--gate", retry.gate_key, "--sign-with"]
    assert main([*signed_approve, str(ssh_signers["alice"])]) == 1
    assert "started this run" in capsys.readouterr().err
    assert main([*signed_approve, str(ssh_signers["bob"])]) == 0
    second = _next_gate(store, after=retry.gate_key).request
    assert second.gate_key.endswith("-a1-s2")
    signed_second = ["approve", second.flow_run_id, "--gate", second.gate_key, "--sign-with"]
    assert main([*signed_second, str(ssh_signers["bob"])]) == 1
    assert "different approver" in capsys.readouterr().err
    assert main([*signed_second, str(ssh_signers["dave"])]) == 0

    thread.join(timeout=120)
    assert result["state"].is_completed()
    assert store.state("var_engine").mode.value == "full"
    records = GateStore(store).decisions_for_run(first.flow_run_id)
    assert [(r.approver, r.channel.value) for r in records] == [("bob@firm", "cli_signed"),
                                                                 ("dave@firm", "cli_signed")]
    started = [e for e in AuditLog(store).entries(component="var_engine") if e.action == "phase_started"]
    assert started[-1].evidence["initiator"] == "alice@firm"


def test_critical_phase_started_with_a_typed_name_is_refused_at_its_start(store, capsys):
    """`runbook start critical` without a signature fails before anything moves, says how to start
    it, prints no traceback, and audits the refusal."""
    prepare(store, "var_engine")
    code = main(["start", "critical", "--component", "var_engine", "--as", "carol"])
    out = capsys.readouterr()
    assert code == 1
    assert "--sign-with" in out.err
    assert "/runbook critical var_engine" in out.err
    assert "Traceback" not in out.err + out.out
    assert store.state("var_engine").mode.value == "shadow"
    entries = AuditLog(store).entries(component="var_engine")
    assert [e.actor for e in entries if e.action == "phase_start_refused"] == ["carol"]
