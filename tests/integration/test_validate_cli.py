"""``runbook validate`` end to end: exit codes, JSON and HTML reports, every listed fault fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.engines.faults import list_faults

SMALL = ["--historical", "600", "--monte-carlo", "3000"]
RUNBOOK = Path(sys.executable).with_name("runbook")


def test_list_faults_prints_component_fault_pairs():
    """The console script prints one 'COMPONENT FAULT_NAME' per line, exactly list_faults()."""
    done = subprocess.run(
        [str(RUNBOOK), "validate", "--list-faults"], capture_output=True, text=True, check=True
    )
    lines = done.stdout.strip().splitlines()
    assert lines == [f"{component} {fault}" for component, fault in list_faults()]


@pytest.mark.parametrize("component", ["var_engine", "hedge_calculator"])
def test_shipped_engines_pass_with_exit_0(component, capsys):
    """The shipped critical engines pass: exit 0 and a JSON report saying so."""
    assert main(["validate", component, *SMALL, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True
    assert report["component"] == component


@pytest.mark.parametrize(("component", "fault"), list_faults())
def test_every_listed_fault_fails_with_exit_1(component, fault, capsys):
    """Each (component, fault) pair makes the validation fail and names the failing checks."""
    assert main(["validate", component, "--inject-fault", fault, *SMALL, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failed_checks"]
    assert report["summary"]["engines"]["fault"] == fault


def test_report_directory_gets_json_and_html(tmp_path, capsys):
    """--report DIR writes report.json and report.html; the human summary names failing checks."""
    code = main(
        ["validate", "var_engine", "--inject-fault", "quantile_convention", *SMALL, "--report", str(tmp_path)]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "tolerance:historical:var" in out
    assert json.loads((tmp_path / "report.json").read_text())["passed"] is False
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


def test_user_engines_by_import_path(capsys):
    """--legacy / --candidate accept module:attribute paths (here the shipped classes)."""
    code = main(
        [
            "validate",
            "var_engine",
            *SMALL,
            "--json",
            "--legacy",
            "runbook.engines.legacy:DriftRiskEngine",
            "--candidate",
            "runbook.engines.var:VaRCalculationEngine",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["summary"]["engines"]["candidate"] == (
        "runbook.engines.var:VaRCalculationEngine"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "risk_engine"], "unknown component"),
        (["validate", "var_engine", "--candidate", "nowhere.module:Engine"], "cannot import module"),
        (
            ["validate", "var_engine", "--candidate", "runbook.engines.hedging:HedgeRequirementsCalculator"],
            "does not fit",
        ),
        (["validate", "var_engine", "--inject-fault", "typo"], "unknown fault"),
        (["validate", "var_engine", "--historical", "0"], "--historical"),
        (["validate", "var_engine", "--monte-carlo", "-5"], "--monte-carlo"),
        (["validate"], "COMPONENT"),
        (["validate", "var_engine", "--window", "250", "--window", "3"], "window 3 is too short"),
        (["validate", "var_engine", "--window", "9000"], "window of 9000 days"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    """Bad input exits 2 with one line on stderr naming the problem, before any computation."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_console_script_exit_code_and_json():
    """The installed console script runs a small validation and exits 0 with JSON on stdout."""
    done = subprocess.run(
        [str(RUNBOOK), "validate", "hedge_calculator", *SMALL, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passed"] is True
