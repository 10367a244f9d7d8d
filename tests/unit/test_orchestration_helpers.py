"""Pure helpers of the orchestration ring: exit codes, progress, keys, markdown, demo settings,
prefect.yaml parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook._cli.demo import demo_settings, exit_code
from runbook.domain.gates import GatePolicy, GateRequest
from runbook.errors import BadParameter
from runbook.orchestration.artifacts import artifact_key, stage_progress
from runbook.orchestration.deployments import DeploymentSpec, read_specs
from runbook.reports.markdown import gate_description
from runbook.settings import Settings


def _row(status: str, mode: str = "retired") -> dict[str, str]:
    return {"component": "var_engine", "status": status, "mode": mode}


def test_demo_exit_codes():
    """0 when all reached full or retired; 3 when the runbook stopped one; 1 when a run failed."""
    assert exit_code([_row("completed"), _row("completed", "full")]) == 0
    stopped = [_row("completed"), _row("rolled_back", "rolled_back"), _row("not started", "legacy")]
    assert exit_code(stopped) == 3
    assert exit_code([_row("held", "canary")]) == 3
    assert exit_code([_row("completed"), _row("failed", "shadow")]) == 1


def test_demo_settings_never_touch_the_configured_store_or_slack(tmp_path):
    """The demo gets its own SQLite file under RUNBOOK_HOME/demo/<time> and no Slack token."""
    configured = Settings(home=tmp_path, database_url="postgresql+psycopg://prod/runbook",
                          slack_bot_token="xoxb-real", approvers={"critical": ["cro"]})
    demo = demo_settings(configured, now=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert demo.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/demo/20250304-050607/runbook.db"
    assert demo.slack_bot_token is None
    assert demo.approvers == {}


def test_validation_progress_is_monotonic_across_stages():
    """Stage progress maps onto one 0..1 scale in the validator's stage order."""
    points = [stage_progress("historical scenarios", 0, 1), stage_progress("historical scenarios", 1, 1),
              stage_progress("monte carlo scenarios", 5, 10), stage_progress("statistics", 1, 1),
              stage_progress("performance", 1, 1)]
    assert points == sorted(points)
    assert points[0] == 0.0
    assert points[-1] == pytest.approx(1.0)


def test_artifact_keys_are_lowercase_dashes():
    """Artifact keys keep only lowercase letters, digits and dashes."""
    assert artifact_key("runbook-log", "var_engine", "Critical") == "runbook-log-var-engine-critical"


def test_gate_description_carries_evidence_and_the_cli_command():
    """The resume form shows the evidence, who may approve and how to answer from the CLI."""
    request = GateRequest(
        gate_key="critical-var-engine-canary-5-run-12345678-a1-s1", flow_run_id="12345678-aaaa",
        component="var_engine", phase="critical", title="var_engine: 5% -> 25%?", critical=True,
        policy=GatePolicy(required_approvals=2, forbid_initiator=True), initiator="carol",
        evidence={"error_rate": 0.0, "monitor": "CONTINUE | fine"}, created_at=datetime.now(UTC),
    )
    text = gate_description(request, "http://ui/runs/flow-run/12345678-aaaa")
    assert "2 different approvers, not the run's initiator" in text
    assert "| error_rate | 0 |" in text
    assert "CONTINUE / fine" in text  # a pipe would break the table
    assert "runbook approve 12345678-aaaa --gate critical-var-engine-canary-5-run-12345678-a1-s1" in text


def test_prefect_yaml_entries_need_a_python_entrypoint(tmp_path: Path):
    """Entrypoints map to module paths; a malformed one or an empty file is refused by name."""
    spec = DeploymentSpec(name="shadow", entrypoint="flows/shadow.py:shadow")
    assert spec.module_and_attribute == ("flows.shadow", "shadow")
    with pytest.raises(BadParameter, match=r"not .path\.py:flow."):
        _ = DeploymentSpec(name="bad", entrypoint="flows.shadow").module_and_attribute
    empty = tmp_path / "prefect.yaml"
    empty.write_text("name: x\ndeployments: []\n", encoding="utf-8")
    with pytest.raises(BadParameter, match="declares no deployments"):
        read_specs(empty)


def test_runbook_log_links_the_run_and_the_report():
    """The runbook log artifact names the stopping check and links the run and the HTML report."""
    from runbook.reports.markdown import outcome_markdown

    text = outcome_markdown(component="var_engine", phase="shadow", status="held", check="validation",
                            reason="tolerance failed",
                            steps=[{"step": "offline validation", "result": "FAILED"}],
                            links={"flow run": "http://ui/runs/flow-run/1",
                                   "report": "http://127.0.0.1:4280/reports/var_engine/x/report.html"})
    assert "Stopped by **validation**: tolerance failed" in text
    assert "[flow run](http://ui/runs/flow-run/1)" in text
    assert "[report](http://127.0.0.1:4280/reports/var_engine/x/report.html)" in text
    assert "| offline validation | FAILED |" in text
