"""The scheduled and triggered flows (nightly validation, monitor, emergency rollback) and the
deployments prefect.yaml declares, against the session's Prefect server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventOrder,
    EventResourceFilter,
)

from flows.auto_rollback_monitor import auto_rollback_monitor
from flows.emergency_rollback import emergency_rollback
from flows.nightly_validation import nightly_validation
from runbook.control.audit import AuditLog
from runbook.control.safety import ProductionSafetyManager
from runbook.engines.registry import load_pair
from runbook.orchestration.context import close_stores, open_store
from runbook.orchestration.deployments import build_deployments, find_project_file, read_specs
from runbook.orchestration.events import ROLLED_BACK
from runbook.orchestration.params import ValidationOptions
from runbook.orchestration.testing import FAST_THRESHOLDS, prepare
from runbook.traffic import run_replay

SMALL = ValidationOptions(historical=500, monte_carlo=2_000)


@pytest.fixture
def store(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh SQLite store under a private RUNBOOK_HOME, console notifications only."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    for name in ("RUNBOOK_DATABASE_URL", "RUNBOOK_SLACK_BOT_TOKEN", "RUNBOOK_SLACK_BOT_TOKEN_BLOCK",
                 "RUNBOOK_APPROVERS", "RUNBOOK_ENGINES"):
        monkeypatch.delenv(name, raising=False)
    yield open_store()
    close_stores()


def test_nightly_validation_covers_components_in_migration_only(store):
    """Only components in shadow, canary or full are re-validated; the shipped engines pass."""
    prepare(store, "performance_analyzer")
    rows = nightly_validation(validation=SMALL)
    assert [(r["component"], r["mode"], r["passed"]) for r in rows] == [
        ("performance_analyzer", "shadow", True)]


def test_nightly_validation_fails_when_a_deployed_candidate_drifts(store, monkeypatch):
    """A candidate configured with a 0.01% bias fails the nightly run, naming the component."""
    engines = {"var_engine": {"legacy": "runbook.engines.legacy:DriftRiskEngine",
                              "candidate": "runbook.engines.faults:SmallBiasVaR"}}
    monkeypatch.setenv("RUNBOOK_ENGINES", json.dumps(engines))
    prepare(store, "var_engine")
    state = nightly_validation(validation=SMALL, return_state=True)
    assert state.is_failed()
    assert "var_engine" in (state.message or "")


def test_monitor_rolls_back_a_slow_canary_and_emits_the_event(store):
    """The scheduled monitor rolls a 4x slower canary back, audits it and emits the rollback event."""
    started = datetime.now(UTC)
    prepare(store, "var_engine")
    ProductionSafetyManager(store, actor="test").enable_canary_deployment("var_engine", 25, reason="setup")
    run_replay(store, "var_engine", load_pair("var_engine", fault="slow"), rate_per_s=1_000, duration_s=1.5)
    limits = FAST_THRESHOLDS.model_copy(update={"max_latency_ratio": 2.0})
    verdicts = auto_rollback_monitor(window_s=60, thresholds=limits)
    assert [(v["component"], v["verdict"]) for v in verdicts] == [("var_engine", "rollback")]
    assert store.state("var_engine").mode.value == "rolled_back"
    rollback = [e for e in AuditLog(store).entries(component="var_engine") if e.to_mode == "rolled_back"]
    assert rollback
    assert rollback[-1].actor == "auto_rollback_monitor"
    event = _wait_for_event(ROLLED_BACK, "runbook.component.var_engine", since=started)
    assert event.resource["runbook.rollback.source"] == "monitor"


def test_emergency_rollback_of_all_components(store):
    """emergency_rollback(all_components) sends every live component back to legacy in one go."""
    prepare(store, "market_data_provider")
    prepare(store, "correlation_analyzer")
    manager = ProductionSafetyManager(store, actor="test")
    manager.enable_canary_deployment("correlation_analyzer", 5, reason="setup")
    states = emergency_rollback(component="all_components", reason="drill", actor="oncall")
    assert sorted(s["component"] for s in states) == ["correlation_analyzer", "market_data_provider"]
    assert {s.mode.value for s in store.states().values()} == {"legacy", "rolled_back"}
    assert AuditLog(store).entries()[-1].action == "rollback_all"


def test_deployments_from_prefect_yaml_register_with_schedules_and_trigger(store):
    """Every deployment in prefect.yaml builds and registers; the nightly cron has its time zone,
    the monitor runs every minute, and the rollback deployment follows the monitor's event."""
    specs = read_specs(find_project_file())
    deployments = {d.name: d for d in build_deployments(specs)}
    assert set(deployments) == {"readiness", "shadow", "canary", "critical", "cleanup", "migrate",
                                "nightly-validation", "auto-rollback-monitor", "emergency-rollback"}
    for name in ("nightly-validation", "auto-rollback-monitor", "emergency-rollback"):
        deployments[name].apply()
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name("nightly_validation/nightly-validation")
        monitor = client.read_deployment_by_name("auto_rollback_monitor/auto-rollback-monitor")
        rollback = client.read_deployment_by_name("emergency_rollback/emergency-rollback")
        automations = client.read_automations_by_name("emergency-rollback__automation_1")
    cron = nightly.schedules[0].schedule
    assert (cron.cron, cron.timezone) == ("30 1 * * 1-5", "Europe/London")
    assert nightly.parameters["validation"]["historical"] == 10_000
    assert monitor.schedules[0].schedule.interval.total_seconds() == 60
    assert rollback.entrypoint == "flows.emergency_rollback.emergency_rollback"
    trigger = automations[0].trigger
    assert trigger.expect == {ROLLED_BACK}
    assert trigger.match.root["runbook.rollback.source"] == "monitor"
    assert automations[0].actions[0].parameters["component"] == "{{ event.resource['runbook.component'] }}"


def _wait_for_event(name: str, resource_id: str, *, since: datetime, timeout_s: float = 60.0):
    """The first ``name`` event about ``resource_id`` that occurred at or after ``since``.

    The Prefect server lives for the whole session: earlier tests' events about the same resource
    (a gate's rollback of var_engine, say) are still there, and events are persisted a little
    after they are emitted, so only events of this test's own time count.
    """
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            page = client.read_events(
                EventFilter(
                    event=EventNameFilter(name=[name]),
                    resource=EventResourceFilter(id=[resource_id]),
                    occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(minutes=5)),
                    order=EventOrder.ASC,
                ),
                limit=50,
            )
            if page.events:
                return page.events[0]
            time.sleep(0.5)
    raise AssertionError(f"no {name} event for {resource_id} since {since:%H:%M:%S} within {timeout_s:g} s")
