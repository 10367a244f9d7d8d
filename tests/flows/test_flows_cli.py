"""`runbook demo` and `runbook gates` from the command line, against the session's Prefect server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flows.canary import canary
from runbook.cli import main
from runbook.control.store import Store
from runbook.orchestration.context import close_stores, open_store
from runbook.orchestration.testing import fast_options, prepare, wait_for_gate


@pytest.fixture
def home(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private RUNBOOK_HOME; no configured database or Slack."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    # the demo turns Prefect's console logging down; keep that to this test
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    for name in ("RUNBOOK_DATABASE_URL", "RUNBOOK_SLACK_BOT_TOKEN", "RUNBOOK_SLACK_BOT_TOKEN_BLOCK",
                 "RUNBOOK_APPROVERS"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path / "home"
    close_stores()


def test_demo_migrates_a_component_with_demo_approvers(home, capsys):
    """`runbook demo --component X --auto-approve` retires X, prints the summary and the HTML report."""
    assert main(["demo", "--component", "performance_analyzer", "--auto-approve"]) == 0
    out = capsys.readouterr().out
    assert "2,000 historical + 20,000 Monte Carlo" in out
    assert "Migration summary" in out
    assert "completed" in out
    assert "retired" in out
    report = Path(out.split("HTML report: ")[1].split()[0])
    assert report.is_file()
    assert "performance_analyzer" in report.read_text(encoding="utf-8")
    demo_db = next((home / "demo").glob("*/runbook.db"))
    with Store.from_url(f"sqlite:///{demo_db}") as store:
        approvals = [e for e in _audit(store) if e.action == "gate_approve"]
    assert approvals
    assert {e.evidence["channel"] for e in approvals} == {"demo"}


def test_demo_with_a_defective_candidate_stops_and_names_the_check(home, capsys):
    """An injected 0.01% bias is caught by the validator in shadow: exit 3, the summary says where."""
    assert main(["demo", "--component", "var_engine", "--auto-approve", "--inject-fault", "small_bias"]) == 3
    out = capsys.readouterr().out
    summary = out.split("Migration summary")[1]
    for expected in ("var_engine", "held", "shadow", "validation"):
        assert expected in summary


def test_demo_refuses_an_unknown_fault_before_starting(home, capsys):
    """A fault the selected component does not have is bad input: exit 2, nothing run."""
    assert main(["demo", "--component", "var_engine", "--inject-fault", "hedge_ratio_error_5pct"]) == 2
    assert "not a defect of var_engine" in capsys.readouterr().err
    assert not (home / "demo").exists()


def test_gates_lists_the_gate_a_paused_run_waits_on(home, capsys):
    """`runbook gates` shows the paused run's current gate key and when it times out; `--run` narrows
    to one run."""
    store = open_store()
    prepare(store, "correlation_analyzer")
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(state=canary(
        component="correlation_analyzer", initiator="carol", steps=[50, 100],
        **fast_options(validation=False), return_state=True)))
    runner.start()
    gate = wait_for_gate(store).request
    assert main(["gates"]) == 0
    listed = capsys.readouterr().out
    assert gate.gate_key in listed
    assert gate.expires_at is not None
    assert f"times out {gate.expires_at.isoformat(timespec='seconds')}" in listed
    assert main(["gates", "--run", gate.flow_run_id]) == 0
    assert gate.gate_key in capsys.readouterr().out
    assert main(["reject", gate.flow_run_id, "--gate", gate.gate_key, "--as", "dave"]) == 0
    runner.join(timeout=120)
    assert result["state"].is_failed()
    assert main(["gates", "--run", gate.flow_run_id]) == 0
    assert "no gate is waiting" in capsys.readouterr().out


def _audit(store: Store):
    from runbook.control.audit import AuditLog

    return AuditLog(store).entries()
