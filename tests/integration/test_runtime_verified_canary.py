"""Verified canary end to end: a plausibly wrong candidate in canary or full is compared with legacy
off the caller's path, the real monitor rolls it back on the store, and ``runbook incident`` lists
every routing key that was served a wrong number, with both values."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from runbook.cli import main
from runbook.control import CaptureStore, ObservationStore, ProductionSafetyManager, Store
from runbook.domain.modes import Mode
from runbook.monitoring import Verdict, monitor_and_act
from runbook.runtime import ObservationRecorder, RequestCapture, Router, routing_point

COMPONENT = "var_engine"
NEVER = 3600.0
KEYS = [f"book-{i}" for i in range(40)]


def legacy(notional: float) -> float:
    return 0.02 * notional


def two_percent_off(notional: float) -> float:
    return 0.0204 * notional


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()


def serve_wrong_numbers(store: Store, mode: Mode) -> list[str]:
    """Put the component in ``mode``, route every key once; return the keys new answered."""
    manager = ProductionSafetyManager(store, actor="ops")
    manager.enable_shadow_mode(COMPONENT, reason="shadow first")
    manager.enable_canary_deployment(COMPONENT, 50, reason="5% step, scaled for the test")
    if mode is Mode.FULL:
        manager.promote(COMPONENT, reason="all traffic")
    recorder = ObservationRecorder(ObservationStore(store), flush_interval_s=0.01)
    capture = RequestCapture(CaptureStore(store))
    router = Router(COMPONENT, legacy=legacy, candidate=two_percent_off, state_source=store,
                    recorder=recorder, capture=capture, refresh_interval_s=NEVER)  # fmt: skip
    try:
        assert router.serving_mode is mode
        answers = {key: router.call(1_000_000.0 + i, routing_key=key) for i, key in enumerate(KEYS)}
        assert router.flush(30)
    finally:
        router.close()
        recorder.close()
        capture.close()
    wrong = [key for key, i in zip(KEYS, range(len(KEYS)), strict=True)
             if answers[key] != legacy(1_000_000.0 + i)]  # fmt: skip
    if mode is Mode.CANARY:
        assert set(wrong) <= {k for k in KEYS if routing_point(COMPONENT, k) < 0.5}
    assert wrong
    return wrong


@pytest.mark.parametrize("mode", [Mode.CANARY, Mode.FULL])
def test_monitor_rolls_back_on_wrong_numbers_served(store, mode):
    """Every served answer is compared with legacy; the count-based mismatch trigger rolls back."""
    serve_wrong_numbers(store, mode)
    decision = monitor_and_act(store, COMPONENT, window_s=3600)
    assert decision.verdict is Verdict.ROLLBACK
    assert "mismatch_rate" in decision.failed_checks
    assert "error_rate" not in decision.failed_checks  # the answers were valid, only wrong
    assert store.state(COMPONENT).mode is Mode.ROLLED_BACK


def test_incident_lists_every_key_served_a_wrong_number_with_both_values(store, database_url, monkeypatch,
                                                                          capsys):  # fmt: skip
    """runbook incident: the timeline, the monitor's trigger, and each wrong answer with legacy's value."""
    wrong = serve_wrong_numbers(store, Mode.CANARY)
    monitor_and_act(store, COMPONENT, window_s=3600)
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", database_url)
    assert main(["incident", COMPONENT, "--since", "1h", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys"] == sorted(wrong)
    for row in report["served_mismatches"]:
        i = KEYS.index(row["routing_key"])
        assert float(row["legacy_value"]) == legacy(1_000_000.0 + i)
        assert float(row["candidate_value"]) == two_percent_off(1_000_000.0 + i)
        assert row["request_kept"]
    [trigger] = report["triggers"]
    assert "mismatch_rate" in trigger["failed_checks"]
    assert "rolled_back" in [e["to_mode"] for e in report["timeline"]]
    assert main(["incident", COMPONENT, "--since", "1h"]) == 0
    text = capsys.readouterr().out
    for key in wrong:
        assert f"  {key}  at " in text
    assert "rollback by auto_rollback_monitor (failed checks:" in text


@pytest.mark.parametrize(("argv", "named"), [
    (["incident", "no_such_engine"], "no_such_engine"),
    (["incident", COMPONENT, "--since", "yesterday-ish"], "yesterday-ish"),
])  # fmt: skip
def test_incident_refuses_bad_input_in_one_line(sqlite_url, monkeypatch, capsys, argv, named):
    """An unknown component or an unreadable --since: exit 2, one line naming the value."""
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", sqlite_url)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert named in err
