"""Bad input to `runbook demo`, `runbook run` and `runbook approve`: one line on stderr, exit 2,
nothing started or written (in-process through runbook.cli.main; no Prefect server)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook._cli.demo import demo_faults
from runbook.cli import main
from runbook.engines.registry import list_faults


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private RUNBOOK_HOME with its own SQLite store."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RUNBOOK_DATABASE_URL", raising=False)
    return tmp_path / "home"


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert lines[0].startswith("runbook: error: ")
    return lines[0]


def _owners(fault: str) -> list[str]:
    return [owner for owner, name in list_faults() if name == fault]


def test_demo_refuses_an_unknown_fault_and_lists_the_known_ones(home, capsys):
    """An unknown defect name: exit 2 before anything starts, naming it and every known defect."""
    assert main(["demo", "--component", "var_engine", "--inject-fault", "no_such_defect"]) == 2
    line = _one_error_line(capsys)
    assert "'no_such_defect' is not a known defect" in line
    for owner, name in list_faults():
        assert owner in line
        assert name in line
    assert not home.exists()


def test_demo_refuses_a_fault_of_another_component(home, capsys):
    """A defect of another component: exit 2, naming its owner and the chosen component's defects."""
    fault = next(name for owner, name in list_faults() if owner == "market_data_provider")
    assert main(["demo", "--component", "var_engine", "--auto-approve", "--inject-fault", fault]) == 2
    line = _one_error_line(capsys)
    assert f"{fault!r} is not a defect of var_engine but of market_data_provider" in line
    for name in (name for owner, name in list_faults() if owner == "var_engine"):
        assert name in line
    assert not home.exists()


def test_demo_refuses_an_unknown_component(home, capsys):
    """An unknown component: exit 2 in one line that lists the components and `all`."""
    assert main(["demo", "--component", "var_engin"]) == 2
    line = _one_error_line(capsys)
    assert "unknown component 'var_engin'" in line
    assert "all" in line
    assert "hedge_calculator" in line
    assert not home.exists()


def test_a_fault_with_all_components_goes_to_each_component_that_has_it():
    """With --component all, a defect is injected into exactly the components that have it."""
    shared = next(name for _, name in list_faults() if len(_owners(name)) > 1)
    assert demo_faults("all", shared) == dict.fromkeys(_owners(shared), shared)
    single = next(name for _, name in list_faults() if len(_owners(name)) == 1)
    assert demo_faults("all", single) == {_owners(single)[0]: single}
    assert demo_faults("all", None) == {}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "shadow", "--component", "var_engin"], "unknown component 'var_engin' for shadow"),
        (["run", "canary", "--component", "var_engine"], "var_engine is critical"),
        (["run", "critical", "--component", "market_data_provider"], "market_data_provider is non-critical"),
        (["run", "nightly_validation", "--component", "var_engine"], "takes no --component"),
        (["run", "emergency_rollback", "--component", "all"], "all_components"),
        (["run", "cleanup"], "needs --component"),
    ],
)
def test_run_refuses_a_component_the_phase_does_not_take(home, capsys, argv, expected):
    """`runbook run PHASE` with a component the phase cannot take: exit 2, one line, nothing run."""
    assert main(argv) == 2
    assert expected in _one_error_line(capsys)
    assert not home.exists()


def test_approve_refuses_an_unknown_gate_key_and_audits_the_attempt(home, capsys):
    """`runbook approve` with a gate key the store does not know: exit 2, no decision, one audit row
    recording the refused attempt."""
    from runbook.control.audit import AuditLog
    from runbook.control.store import Store

    run_id = "0b7c0f3e-0000-4000-8000-000000000000"
    assert main(["approve", run_id, "--gate", "no-such-gate", "--as", "ann"]) == 2
    line = _one_error_line(capsys)
    assert "no gate 'no-such-gate'" in line
    assert "runbook gates" in line
    with Store.from_url(f"sqlite:///{(home / 'runbook.db').resolve()}") as store:
        assert [(e.action, e.actor) for e in AuditLog(store).entries()] == [("gate_decision_refused", "ann")]


def test_reject_refuses_a_run_id_the_gate_does_not_belong_to(home, capsys):
    """`runbook reject` with another run's id for a real gate: exit 2, naming the gate's run, and the
    refused attempt audited under the gate's component."""
    from runbook.control.audit import AuditLog
    from runbook.control.gates import GateStore
    from runbook.control.store import Store
    from runbook.domain.gates import GatePolicy, GateRequest, GateStatus

    home.mkdir(parents=True)
    key = "shadow-var-engine-shadow-run-aaaa-a1-s1"
    with Store.from_url(f"sqlite:///{(home / 'runbook.db').resolve()}") as store:
        GateStore(store).open_request(GateRequest(
            gate_key=key, flow_run_id="run-aaaa", component="var_engine",
            phase="shadow", title="var_engine: shadow -> canary?", critical=True,
            policy=GatePolicy(required_approvals=2), initiator="carol", evidence={},
            created_at=datetime.now(UTC),
        ))
    assert main(["reject", "run-bbbb", "--gate", key, "--as", "ann"]) == 2
    line = _one_error_line(capsys)
    assert "belongs to run run-aaaa, not 'run-bbbb'" in line
    with Store.from_url(f"sqlite:///{(home / 'runbook.db').resolve()}") as store:
        assert GateStore(store).request(key).status is GateStatus.PENDING
        refused = AuditLog(store).entries()[-1]
        assert (refused.action, refused.component) == ("gate_decision_refused", "var_engine")
