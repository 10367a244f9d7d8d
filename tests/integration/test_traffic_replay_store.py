"""Traffic replay through real routers with the shipped engines, recording into a real store."""

from __future__ import annotations

import pytest

from runbook.cli import main
from runbook.control import ObservationStore, ProductionSafetyManager, Store
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.domain.thresholds import RollbackThresholds
from runbook.engines.registry import load_pair
from runbook.monitoring import Verdict, monitor_and_act, summarize
from runbook.traffic import StopReason, run_replay


@pytest.fixture
def store(database_url: str) -> Store:
    opened = Store.from_url(database_url)
    yield opened
    opened.dispose()


def test_shadow_replay_records_one_clean_comparison_per_request(store: Store) -> None:
    """40 replayed correlation requests in shadow give 40 observations, each comparing both engines
    within the 1e-5 tolerance."""
    component = "correlation_analyzer"
    epoch = ProductionSafetyManager(store, actor="test").enable_shadow_mode(component, reason="test").epoch

    stats = run_replay(store, component, load_pair(component), rate_per_s=40, duration_s=1.0)

    assert (stats.sent, stats.caller_errors, stats.stopped) == (40, 0, StopReason.COUNT)
    window = ObservationStore(store).window(component, since=0.0)
    assert len(window) == 40
    assert {(o.mode, o.route, o.epoch) for o in window} == {("shadow", Route.LEGACY, epoch)}
    summary = summarize(window)
    assert (summary.comparisons, summary.mismatches, summary.calculation_errors) == (40, 0, 0)


def test_slow_candidate_in_canary_is_rolled_back_by_the_monitor(store: Store) -> None:
    """A candidate four times slower, replayed at 50% canary, is rolled back on latency: its median is
    compared with the legacy calls of the same window."""
    component = "var_engine"
    safety = ProductionSafetyManager(store, actor="test")
    safety.enable_shadow_mode(component, reason="test")
    safety.enable_canary_deployment(component, 50, reason="test")

    stats = run_replay(store, component, load_pair(component, fault="slow"), rate_per_s=100, duration_s=1.5)
    window = ObservationStore(store).window(component, since=0.0)
    routes = {route: sum(1 for o in window if o.route == route) for route in Route}
    assert len(window) == stats.sent
    assert routes[Route.CANDIDATE] > 30
    assert routes[Route.LEGACY] > 30

    thresholds = RollbackThresholds(min_observations=30)
    decision = monitor_and_act(store, component, thresholds=thresholds, window_s=600, actor="test-monitor")

    assert decision.verdict is Verdict.ROLLBACK, decision.reasons
    assert decision.failed_checks == ("latency",)
    assert decision.evidence["latency.baseline_source"] == "legacy calls in the window"
    assert store.state(component).mode is Mode.ROLLED_BACK


def test_cli_replay_writes_observations(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`runbook replay COMPONENT --rate N --seconds S` replays and reports the observations written."""
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", sqlite_url)
    with Store.from_url(sqlite_url) as store:
        ProductionSafetyManager(store, actor="test").enable_shadow_mode("market_data_provider", reason="t")

    code = main(["replay", "market_data_provider", "--rate", "30", "--seconds", "1", "--json"])

    import json

    figures = json.loads(capsys.readouterr().out)
    assert code == 0
    assert figures["sent"] == 30
    assert figures["observations_written"] == 30
    assert figures["mode"] == "shadow"
    with Store.from_url(sqlite_url) as store:
        kinds = {o.error_kind for o in ObservationStore(store).window("market_data_provider", since=0.0)}
    assert kinds == {ErrorKind.NONE}


def test_cli_replay_refuses_a_bad_rate(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """A zero rate is bad input: one line on stderr naming the value, exit 2."""
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", sqlite_url)
    assert main(["replay", "var_engine", "--rate", "0", "--seconds", "1"]) == 2
    assert "rate_per_s 0.0" in capsys.readouterr().err
