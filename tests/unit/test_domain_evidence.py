"""The values tasks hand to flows: typed, frozen, and plain when they go into evidence."""

from __future__ import annotations

import dataclasses

import pytest

from runbook.domain.evidence import (
    BaselineFigures,
    CheckView,
    NotifierCheck,
    QualitySummary,
    RolledBack,
    ValidationSummary,
)
from runbook.domain.verdicts import Verdict
from runbook.monitoring import MonitorDecision


def test_a_quality_summary_is_frozen_and_plain_as_evidence() -> None:
    """A suite's summary cannot be changed on its way to a gate, and reads back as plain values."""
    summary = QualitySummary("scenarios", False, "scenarios: FAILED", ("price > 0",), rows=12)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.passed = True  # type: ignore[misc]
    assert summary.as_dict() == {"suite": "scenarios", "passed": False, "summary": "scenarios: FAILED",
                                 "failures": ["price > 0"], "rows": 12, "data_docs": None}


def test_a_validation_summary_names_the_frames_the_suites_read() -> None:
    """The frames a validation built are reached by name; an unknown name is a KeyError, not None."""
    report = ValidationSummary("var_engine", True, "PASS", 10, 20, "r.html", "r.json",
                               checks=(CheckView("tolerance", True, "pass", "max rel 1e-9"),),
                               frames={"scenarios": "frame-a", "engine_outputs": "frame-b"})
    assert report.frame("engine_outputs") == "frame-b"
    with pytest.raises(KeyError):
        report.frame("nothing")


@pytest.mark.parametrize(("evidence", "since"), [({"since": 1_700_000_000.5}, 1_700_000_000.5),
                                                 ({"since": 12}, 12.0), ({}, 0.0), ({"since": "x"}, 0.0)])
def test_the_monitor_decision_says_where_its_window_began(evidence: dict, since: float) -> None:
    """``since`` is the window start the monitor recorded, 0.0 when it recorded none."""
    assert MonitorDecision(Verdict.CONTINUE, (), evidence).since == since


def test_a_rollback_says_whether_it_moved_the_component() -> None:
    """A rollback's value keeps the state it left and whether it changed anything, plain for alerts."""
    again = RolledBack("var_engine", "rolled_back", 0.0, 7, changed=False)
    assert again.as_dict() == {"component": "var_engine", "mode": "rolled_back", "traffic_percent": 0.0,
                               "epoch": 7, "changed": False}


def test_readiness_values_read_back_as_the_evidence_the_audit_log_keeps() -> None:
    """A baseline and a notifier check become plain values with their units' names, none dropped."""
    baseline = BaselineFigures("var_engine", 120.5, 410.0, 2048, None, "readiness: 300 calls")
    assert baseline.as_dict() == {"component": "var_engine", "latency_p50_us": 120.5, "latency_p99_us": 410.0,
                                  "peak_memory_bytes": 2048, "hedge_effectiveness": None,
                                  "source": "readiness: 300 calls"}
    assert NotifierCheck("console", True, "no Slack").as_dict() == {"channel": "console", "ok": True,
                                                                    "detail": "no Slack"}
