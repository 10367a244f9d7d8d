"""A demo the runbook stops is an outcome, not a crash: exit 3, a summary naming the component, the
phase and the check, no traceback on the console, and a report and audit log the user can open."""

from __future__ import annotations

import io
import logging
import re
import sys
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.errors import GateRejected, ValidationFailed
from runbook.orchestration.context import close_stores


@pytest.fixture
def home(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private RUNBOOK_HOME; no configured database or Slack; Prefect's logging configured."""
    from prefect.logging.configuration import ensure_logging_setup

    # Prefect replaces the root handlers the first time it configures logging: do it before
    # caplog adds its handler, not in the middle of the test.
    ensure_logging_setup()
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    # the demo sets these for its process if unset; keep them to this test
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    for name in ("RUNBOOK_DATABASE_URL", "RUNBOOK_SLACK_BOT_TOKEN", "RUNBOOK_SLACK_BOT_TOKEN_BLOCK",
                 "RUNBOOK_APPROVERS"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path / "home"
    close_stores()


def _stops_logged(caplog: pytest.LogCaptureFixture, kind: type[Exception]) -> list[logging.LogRecord]:
    """Records of the run logger about a deliberate stop of ``kind`` (one line, the exception kept on
    the record: ``runbook.orchestration.stops``)."""
    return [r for r in caplog.records
            if isinstance(r.exc_info[1] if r.exc_info else getattr(r, "runbook_stop", None), kind)]


def test_a_defect_caught_in_shadow_stops_the_demo_without_a_traceback(home, capfd, caplog, monkeypatch):
    """Exit 3; the summary says held in shadow by validation; the console has no traceback while
    Prefect's run logger still got the exception; the printed report and audit command work."""
    caplog.set_level(logging.ERROR, logger="prefect.flow_runs")
    code = main(["demo", "--component", "var_engine", "--auto-approve", "--inject-fault", "small_bias"])
    out, err = capfd.readouterr()
    assert code == 3
    assert "Traceback" not in err
    assert "Traceback" not in out
    assert _stops_logged(caplog, ValidationFailed)
    summary = out.split("Migration summary")[1]
    assert re.search(r"var_engine\s+held\s+shadow\s+readiness\s+shadow / validation", summary)
    assert "var_engine held in shadow by validation: " in summary
    assert "exit code 3 (the runbook stopped var_engine)" in summary
    report = Path(summary.split("HTML report: ")[1].split()[0])
    assert report.is_file()
    assert "var_engine" in report.read_text(encoding="utf-8")
    database_url = summary.split("RUNBOOK_DATABASE_URL=")[1].split()[0]
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", database_url)
    assert main(["audit", "--verify"]) == 0
    assert "audit chain verified" in capfd.readouterr().out


def test_a_gate_rejected_at_the_console_stops_the_demo_quietly(home, capfd, caplog, monkeypatch):
    """A rejection typed at the console: exit 3, rolled back at the shadow gate, and stderr holds
    no traceback and no echo of the notifier's lines."""
    caplog.set_level(logging.ERROR, logger="prefect.flow_runs")
    monkeypatch.setattr(sys, "stdin", io.StringIO("r\nalice\n"))
    code = main(["demo", "--component", "market_data_provider"])
    out, err = capfd.readouterr()
    assert code == 3
    assert "Traceback" not in err
    assert "WARNING" not in err
    assert _stops_logged(caplog, GateRejected)
    summary = out.split("Migration summary")[1]
    assert re.search(r"market_data_provider\s+rolled back\s+rolled_back\s+readiness\s+shadow / gate shadow"
                     r"\s+1 rejected", summary)
    assert "Audit log: " in summary
