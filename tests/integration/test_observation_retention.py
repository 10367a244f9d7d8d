"""Bounded observations on SQLite and PostgreSQL: minute rollups, prune, the monitor reading rollups."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import pytest

from runbook.cli import main
from runbook.control import Baseline, BaselineStore, ObservationStore, ProductionSafetyManager, Store
from runbook.control.rollups import RollupStore
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring import Verdict, monitor_and_act
from runbook.monitoring.retention import prune_observations, roll_up, window_summary

DAY = 86_400.0
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)
COMPONENT = "performance_analyzer"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.from_url(database_url)
    yield opened
    opened.dispose()


def calls(start: float, n: int, *, every_s: float, errors_every: int = 0, epoch: int = 1,
          mode: str = "canary") -> list[Observation]:  # fmt: skip
    """n candidate calls from ``start``; every ``errors_every``-th one raised (latency 100..199 us)."""
    return [
        Observation(
            component=COMPONENT,
            mode=mode,
            route=Route.CANDIDATE if i % 4 else Route.LEGACY,
            routing_key=f"book-{i % 9}",
            at=start + i * every_s,
            legacy_latency_us=None if i % 4 else 80.0,
            candidate_latency_us=100.0 + i % 100,
            error_kind=ErrorKind.EXCEPTION if errors_every and i % errors_every == 0 else ErrorKind.NONE,
            memory_bytes=1_000 + i,
            epoch=epoch,
        )
        for i in range(n)
    ]


def test_rollups_count_what_the_raw_rows_hold(store: Store) -> None:
    """Ten minutes of calls rolled up: per-minute rows add up to the calls, errors and peak memory written."""
    batch = calls(T0, 600, every_s=1.0, errors_every=25)
    ObservationStore(store).write_batch(batch)

    outcome = roll_up(store, now=T0 + 3600)

    assert outcome.raw_rows == 600
    records = RollupStore(store).read(COMPONENT, first_minute=0, end_minute=10**12)
    assert {r.minute for r in records} == {int(T0 // 60) + m for m in range(10)}
    assert sum(r.observations for r in records) == 600
    assert sum(r.calculation_errors for r in records) == 24  # i = 0, 25, ..., 575
    assert sum(r.observations for r in records if r.route == "legacy") == 150
    assert max(r.peak_candidate_memory_bytes for r in records) == 1_599
    assert RollupStore(store).watermark() == T0 + 3600 - 60  # the last whole minute settled


def test_rolling_up_again_does_not_double_count(store: Store) -> None:
    """A second rollup over the same time adds nothing; new minutes are added once."""
    ObservationStore(store).write_batch(calls(T0, 120, every_s=1.0))
    roll_up(store, now=T0 + 600)
    roll_up(store, now=T0 + 600)
    ObservationStore(store).write_batch(calls(T0 + 600, 60, every_s=1.0))
    roll_up(store, now=T0 + 1200)
    records = RollupStore(store).read(COMPONENT, first_minute=0, end_minute=10**12)
    assert sum(r.observations for r in records) == 180


def test_prune_keeps_the_window_and_every_figure(store: Store) -> None:
    """Pruning with a 7-day window deletes only older raw rows; a window over them reads the same counts."""
    old = calls(T0, 300, every_s=60.0, errors_every=10)  # five hours, ten days before "now"
    recent = calls(T0 + 9 * DAY, 50, every_s=60.0)
    ObservationStore(store).write_batch(old + recent)
    now = T0 + 10 * DAY

    outcome = prune_observations(store, now=now, retention_days=7)

    assert outcome.deleted == 300
    assert ObservationStore(store).count(COMPONENT) == 50
    summary = window_summary(store, COMPONENT, since=T0, until=T0 + DAY, mode="canary", epoch=1)
    assert summary.observations == 300
    assert summary.calculation_errors == 30
    assert summary.candidate_calls == 300
    assert summary.candidate_latency_count == 300
    assert 100.0 * 0.99 <= summary.candidate_p50_us <= 199.0 * 1.01


def test_prune_never_deletes_rows_not_rolled_up(store: Store) -> None:
    """Rows in the last, unsettled minute stay even with a zero-day retention."""
    ObservationStore(store).write_batch(calls(T0, 100, every_s=1.0))
    outcome = prune_observations(store, now=T0 + 100, retention_days=0)
    kept = ObservationStore(store).count(COMPONENT)
    assert kept == 100 - outcome.deleted
    assert kept >= 100 - 60  # nothing at or after the settled minute boundary was deleted
    assert ObservationStore(store).count(COMPONENT, since=T0 + 60) == 40


def test_monitor_decides_from_rollups_after_the_raw_rows_are_gone(store: Store) -> None:
    """Canary errors rolled up and pruned from the raw table still roll the canary back, with exact counts."""
    safety = ProductionSafetyManager(store, actor="release-engineer")
    safety.enable_shadow_mode(COMPONENT, reason="test")
    epoch = safety.enable_canary_deployment(COMPONENT, 10.0, reason="test").epoch
    BaselineStore(store).record(COMPONENT, Baseline(latency_p50_us=150.0, latency_p99_us=300.0,
                                                    peak_memory_bytes=0))  # fmt: skip
    start = 60.0 * math.ceil(time.time() / 60.0) + 60.0
    ObservationStore(store).write_batch(calls(start, 1_200, every_s=0.25, errors_every=20, epoch=epoch))
    now = start + 400.0
    prune_observations(store, now=now, retention_days=0)
    assert ObservationStore(store).count(COMPONENT) == 0

    decision = monitor_and_act(store, COMPONENT, thresholds=RollbackThresholds(), window_s=900,
                               alert=lambda c, d: None, now=now)  # fmt: skip

    assert decision.verdict is Verdict.ROLLBACK
    assert decision.evidence["error_rate.events"] == 60
    assert decision.evidence["error_rate.trials"] == 1_200
    assert store.state(COMPONENT).mode is Mode.ROLLED_BACK


def test_cli_prune_prints_figures(store: Store, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`runbook observations prune --json` deletes raw rows older than the window and says how many."""
    ObservationStore(store).write_batch(calls(time.time() - 30 * DAY, 40, every_s=1.0))
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", store.url)
    assert main(["observations", "prune", "--retention-days", "7", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["deleted"] == 40
    assert figures["rolled_up_rows"] == 40
    assert ObservationStore(store).count(COMPONENT) == 0


def test_cli_refuses_a_negative_retention(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A negative retention is one clear line and exit 2."""
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", sqlite_url)
    with pytest.raises(SystemExit) as exit_info:
        main(["observations", "prune", "--retention-days", "-1"])
    assert exit_info.value.code == 2
    assert "retention '-1' must be a number of days >= 0" in capsys.readouterr().err


def awkward_calls(start: float, n: int) -> list[Observation]:
    """Every error kind, both routes, two modes and epochs, missing, zero, negative and infinite
    latencies, differences on both sides of the tolerances, memory on both routes."""
    kinds = list(ErrorKind)
    latencies = [None, 0.0, -3.0, math.inf, 1e-3, 1.0, 99.5, 1_000.0, 123_456.7]
    rels = [None, 0.0, 1e-6, 1e-5, 2e-5, 0.5]
    absolutes = [None, 0.0, 1e-12, 3.0]
    return [
        Observation(
            component=("var_engine", COMPONENT)[i % 2],
            mode=("shadow", "canary")[(i // 3) % 2],
            route=Route.CANDIDATE if i % 5 < 2 else Route.LEGACY,
            routing_key=f"book-{i % 11}",
            at=start + i * 0.37,
            legacy_latency_us=latencies[(i * 7) % len(latencies)],
            candidate_latency_us=latencies[(i * 5) % len(latencies)],
            error_kind=kinds[(i * 3) % len(kinds)],
            abs_difference=absolutes[i % len(absolutes)],
            rel_difference=rels[(i // 2) % len(rels)],
            memory_bytes=(i * 37) % 5_000 - 100,
            epoch=1 + (i // 7) % 2,
        )
        for i in range(n)
    ]


def test_database_rollups_equal_the_python_summaries(store: Store) -> None:
    """The rollup the database computes (GROUP BY) is, field for field, what summarize() says per
    minute of the same rows read back: counts, errors by kind, mismatches, memory, sketches."""
    from runbook.monitoring._rollup_sql import records_between
    from runbook.monitoring.retention import records_of

    ObservationStore(store).write_batch(awkward_calls(T0 - 30.0, 2_000))
    stored = ObservationStore(store)
    read_back = stored.window("var_engine", since=0.0) + stored.window(COMPONENT, since=0.0)

    records = records_between(store, T0 - 600.0, T0 + 3_600.0)

    expected = records_of(read_back)
    assert len(records) == len(expected) > 40
    assert records == expected
    assert sum(r.observations for r in records) == 2_000
    assert sum(r.candidate_latency.zeros for r in records) > 0
    assert sum(r.mismatches for r in records) > 0


def test_rollup_steps_cover_a_sparse_day_and_a_dense_hour(store: Store) -> None:
    """Steps adapt to the rows; every row is rolled up once, whatever the step sizes."""
    sparse = calls(T0, 1_440, every_s=60.0)
    dense = calls(T0 + DAY, 3_600, every_s=1.0)
    ObservationStore(store).write_batch(sparse + dense)

    outcome = roll_up(store, now=T0 + DAY + 7_200, step_s=60.0)

    assert outcome.raw_rows == 1_440 + 3_600
    records = RollupStore(store).read(COMPONENT, first_minute=0, end_minute=10**12)
    assert sum(r.observations for r in records) == 1_440 + 3_600
    assert len({r.minute for r in records}) == 1_440 + 60


def test_incident_counts_calls_older_than_the_raw_retention_from_rollups(store: Store) -> None:
    """`assess` over ten days: every call counted (rollups for the pruned days), the served
    mismatches still kept listed with their keys, the pruned ones counted without details."""
    from runbook.monitoring.incident import as_json, assess

    def mismatch(at: float, key: str, route: Route) -> Observation:
        return Observation(COMPONENT, "canary", route, key, at, 80.0, 100.0, ErrorKind.MISMATCH,
                           400.0, 0.02, epoch=1)  # fmt: skip

    old = calls(T0, 100, every_s=60.0, errors_every=10)  # 10 exceptions, 25 legacy-routed
    old += [mismatch(T0 + 7_000.5, "book-old", Route.CANDIDATE),
            mismatch(T0 + 7_001.5, "book-x", Route.LEGACY)]  # fmt: skip
    recent = calls(T0 + 9 * DAY, 20, every_s=60.0, mode="full")
    recent += [mismatch(T0 + 9 * DAY + 3_000.5, "book-new", Route.CANDIDATE)]
    ObservationStore(store).write_batch(old + recent)
    now = T0 + 10 * DAY
    assert prune_observations(store, now=now, retention_days=7).deleted == 102

    incident = assess(store, COMPONENT, since=T0 - 30.0)

    assert incident.calls_by_mode == {"canary": 103, "full": 20}
    assert incident.errors_by_kind == {"exception": 10, "mismatch": 3}  # exceptions only in the old calls
    assert [(m.routing_key, m.mode) for m in incident.served_mismatches] == [("book-new", "canary")]
    assert incident.served_mismatches_pruned == 1
    assert incident.unserved_mismatches == 1
    assert as_json(incident)["served_mismatches_pruned"] == 1
