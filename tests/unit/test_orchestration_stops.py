"""A deliberate stop reads as one ``Stopped:`` line per run, though Prefect's engine logs it twice."""

from __future__ import annotations

import logging
import sys

from runbook.errors import GateRejected
from runbook.orchestration.stops import OneLineStop


def _record(error: BaseException | None, flow_run_id: str | None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "Encountered exception",
                               (), exc_info)  # fmt: skip
    if flow_run_id is not None:
        record.flow_run_id = flow_run_id
    return record


def test_the_engine_repeating_a_stop_of_one_run_leaves_one_line():
    stops = OneLineStop()
    error = GateRejected("gate canary-50 rejected")
    first, again = _record(error, "run-1"), _record(error, "run-1")
    assert stops.filter(first)
    assert first.getMessage() == "Stopped: gate canary-50 rejected"
    assert first.exc_info is None
    assert not stops.filter(again)


def test_the_same_stop_in_another_run_keeps_its_own_line():
    stops = OneLineStop()
    assert stops.filter(_record(GateRejected("gate canary-50 rejected"), "run-1"))
    other = _record(GateRejected("gate canary-50 rejected"), "run-2")
    assert stops.filter(other)
    assert other.getMessage() == "Stopped: gate canary-50 rejected"


def test_records_without_a_run_and_unexpected_errors_pass_unchanged():
    stops = OneLineStop()
    for _ in range(2):
        record = _record(GateRejected("rejected"), None)
        assert stops.filter(record)
        assert record.getMessage() == "Stopped: rejected"
    try:
        raise ValueError("boom")
    except ValueError:
        crash = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "crashed", (),
                                  sys.exc_info())
    crash.flow_run_id = "run-1"
    assert stops.filter(crash)
    assert stops.filter(crash)
    assert crash.exc_info is not None
    assert crash.getMessage() == "crashed"
