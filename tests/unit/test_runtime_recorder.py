"""ObservationRecorder: batches to a sink from a background thread, never blocks, drops and counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from runbook.domain.observation import Observation, Route
from runbook.errors import BadParameter
from runbook.runtime import InMemorySink, ObservationRecorder


def observation(i: int) -> Observation:
    return Observation(
        component="var_engine", mode="shadow", route=Route.LEGACY, routing_key=f"book-{i}", at=float(i),
        legacy_latency_us=10.0, candidate_latency_us=12.0,
    )  # fmt: skip


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.005)
    return predicate()


def test_writes_every_observation_in_order_in_bounded_batches():
    """2,500 observations arrive in order, in batches of at most 1,000."""
    sink = InMemorySink()
    with ObservationRecorder(sink, batch_size=1_000, flush_interval_s=0.05) as recorder:
        assert all(recorder.record(observation(i)) for i in range(2_500))
        assert recorder.flush()
        assert [o.routing_key for o in sink.observations] == [f"book-{i}" for i in range(2_500)]
        assert max(sink.batches) <= 1_000
        assert len(sink.batches) >= 3
        assert recorder.stats()["written"] == 2_500


def test_partial_batch_is_written_within_the_flush_interval_without_flush():
    """A lone observation is written by the background thread on its own."""
    sink = InMemorySink()
    with ObservationRecorder(sink, flush_interval_s=0.01) as recorder:
        recorder.record(observation(1))
        assert wait_until(lambda: len(sink.observations) == 1)


def test_full_queue_drops_and_counts_without_blocking():
    """With the writer stuck, record() returns False for what does not fit, and counts it."""
    release = threading.Event()
    entered = threading.Event()
    stored: list[Observation] = []

    class StuckSink:
        def write_batch(self, observations):
            entered.set()
            release.wait()
            stored.extend(observations)
            return len(observations)

    recorder = ObservationRecorder(StuckSink(), queue_size=10, batch_size=1, flush_interval_s=0.01)
    try:
        recorder.record(observation(0))
        assert entered.wait(10)  # the writer holds observation 0
        accepted = [recorder.record(observation(i)) for i in range(1, 101)]
        assert accepted.count(True) == 10
        assert recorder.stats()["dropped"] == 90
    finally:
        release.set()
    assert recorder.flush()
    assert len(stored) == 11
    recorder.close()


def test_failed_write_is_retried():
    """A batch that fails once is written on retry, nothing lost."""
    sink = InMemorySink()
    sink.failing = True
    with ObservationRecorder(sink, flush_interval_s=0.01) as recorder:
        recorder.record(observation(1))
        assert wait_until(lambda: recorder.stats()["write_errors"] >= 1)
        sink.failing = False
        assert recorder.flush()
        assert len(sink.observations) == 1
        assert recorder.stats()["lost"] == 0


def test_outage_keeps_observations_while_the_queue_has_room():
    """A sink that fails for a while loses nothing: the batch is retried until the sink is back."""
    sink = InMemorySink()
    sink.failing = True
    with ObservationRecorder(sink, flush_interval_s=0.01, batch_size=10) as recorder:
        for i in range(25):
            recorder.record(observation(i))
        assert wait_until(lambda: recorder.stats()["write_errors"] >= 3)
        assert recorder.stats()["lost"] == 0
        sink.failing = False
        assert recorder.flush()
        assert [o.routing_key for o in sink.observations] == [f"book-{i}" for i in range(25)]
        assert (recorder.stats()["lost"], recorder.stats()["dropped"]) == (0, 0)


def test_every_observation_is_accounted_for_when_the_sink_never_comes_back():
    """Offered = written + dropped + lost: a full queue drops, close() counts the unwritten as lost."""
    sink = InMemorySink()
    sink.failing = True
    recorder = ObservationRecorder(sink, queue_size=20, batch_size=5, flush_interval_s=0.01)
    accepted = [recorder.record(observation(i)) for i in range(100)]
    assert wait_until(lambda: recorder.stats()["write_errors"] >= 1)
    recorder.close(timeout_s=0.2)
    stats = recorder.stats()
    assert sink.observations == []
    assert stats["dropped"] == accepted.count(False) > 0
    assert stats["written"] + stats["dropped"] + stats["lost"] == 100
    assert stats["queued"] + stats["in_flight"] == 0


@pytest.mark.timeout(60)
def test_close_writes_the_rest_and_later_records_drop():
    """close() writes what is queued at once, not at the open batch's deadline (an hour here);
    record() after close returns False."""
    sink = InMemorySink()
    recorder = ObservationRecorder(sink, flush_interval_s=3600.0)
    for i in range(5):
        recorder.record(observation(i))
    recorder.close()
    assert len(sink.observations) == 5
    assert recorder.record(observation(6)) is False
    assert recorder.stats()["dropped"] == 1


@pytest.mark.parametrize("options", [{"queue_size": 0}, {"batch_size": 0}, {"flush_interval_s": 0}])
def test_bad_options_are_refused(options):
    """Sizes below 1 and a non-positive interval raise BadParameter."""
    with pytest.raises(BadParameter):
        ObservationRecorder(InMemorySink(), **options)


def test_rows_handed_over_together_fill_the_queue_in_order_and_the_rest_is_counted_dropped():
    """A pump's rows (Observation's fields in order) fit up to the queue's room, in order; the rest
    is dropped and counted, never waited for."""
    release = threading.Event()
    entered = threading.Event()
    stored: list[Observation] = []

    class StuckSink:
        def write_batch(self, observations):
            entered.set()
            release.wait()
            stored.extend(observations)
            return len(observations)

    def row(i: int) -> tuple[object, ...]:
        o = observation(i)
        return (o.component, o.mode, o.route, o.routing_key, o.at, o.legacy_latency_us,
                o.candidate_latency_us, o.error_kind, None, None, None, None, 0, 0)  # fmt: skip

    recorder = ObservationRecorder(StuckSink(), queue_size=10, batch_size=1, flush_interval_s=0.01)
    try:
        recorder.record(observation(0))
        assert entered.wait(10)  # the writer holds observation 0
        assert recorder._record_rows([row(i) for i in range(1, 8)]) == 0
        assert recorder._record_rows([row(i) for i in range(8, 15)]) == 4  # room for 3 of 7
        assert recorder.stats()["dropped"] == 4
    finally:
        release.set()
    assert recorder.flush()
    assert [o.routing_key for o in stored] == [f"book-{i}" for i in range(11)]
    recorder.close()


def test_a_large_batch_reaches_a_row_sink_in_slices_in_order():
    """A sink that takes plain rows gets a 300-observation batch in slices of at most 64 rows, with
    the writer asleep between slices (a sink's write holds the GIL for its rows' Python work), every
    row once and in order; a failing slice is retried alone, the slices already written stay."""
    slices: list[list[tuple[object, ...]]] = []
    fail_once = {"at": 2}

    class RowSink:
        def write_batch(self, observations):  # pragma: no cover - the recorder prefers rows
            raise AssertionError("rows expected")

        def write_rows(self, rows):
            if len(slices) == fail_once["at"]:
                fail_once["at"] = -1
                raise OSError("store hiccup")
            slices.append(list(rows))
            return len(rows)

    recorder = ObservationRecorder(RowSink(), batch_size=1_000, flush_interval_s=0.5)
    try:
        for i in range(300):
            assert recorder.record(observation(i))
        assert recorder.flush()
        keys = [row[3] for written in slices for row in written]
        assert keys == [f"book-{i}" for i in range(300)]
        assert max(len(written) for written in slices) <= 64
        assert len(slices) >= 300 // 64
        stats = recorder.stats()
        assert (stats["written"], stats["write_errors"], stats["lost"]) == (300, 1, 0)
    finally:
        recorder.close()


def test_a_writer_behind_on_its_queue_writes_without_waiting_for_callers():
    """A router may ask the writer to hold each slice while a caller is inside a call; with more
    than half its queue waiting, the writer does not ask and writes at once (nothing dropped)."""
    log: list[str] = []
    entered, release = threading.Event(), threading.Event()

    class SlowFirstWrite:
        def write_batch(self, observations):  # pragma: no cover - the recorder prefers rows
            raise AssertionError("rows expected")

        def write_rows(self, rows):
            entered.set()
            release.wait(30)
            log.append("write")
            return len(rows)

    recorder = ObservationRecorder(SlowFirstWrite(), queue_size=40, batch_size=5, flush_interval_s=0.01)
    recorder.hold_while(lambda: log.append("asked") is not None)  # asked, and told no caller is in
    try:
        assert recorder.record(observation(0))
        assert entered.wait(10)
        for i in range(1, 31):  # 30 queued behind the first write: more than half of 40
            assert recorder.record(observation(i))
        release.set()
        assert recorder.flush()
        assert recorder.stats()["written"] == 31
        assert log.count("write") == 7  # 1 + 30 in batches of 5
        assert log[:3] == ["asked", "write", "write"]  # the second write did not ask: 25 were waiting
        assert log.count("asked") < log.count("write")
    finally:
        release.set()
        recorder.close()
