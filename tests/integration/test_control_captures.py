"""CaptureStore on SQLite and PostgreSQL: captured requests written and read back exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runbook.control import CaptureStore, Store
from runbook.domain.capture import CapturedRequest, CaptureReason
from runbook.runtime import RequestCapture


@pytest.fixture
def captures(database_url: str) -> Iterator[CaptureStore]:
    store = Store.from_url(database_url)
    yield CaptureStore(store)
    store.dispose()


def _capture(i: int, reason: CaptureReason = CaptureReason.MISMATCH) -> CapturedRequest:
    return CapturedRequest(
        component="var_engine", routing_key=f"book-{i}", at=1_700_000_000.0 + i, reason=reason,
        payload='{"args":[1.5],"kwargs":{}}', size=26, mode="canary", epoch=4,
        detail="rel difference 0.02 > 1e-05", legacy_value="100.0", candidate_value="102.0",
        abs_difference=2.0, rel_difference=0.02,
    )  # fmt: skip


def test_captures_round_trip_exactly(captures: CaptureStore) -> None:
    """What is written is read back field for field, oldest first, filtered by reason and time."""
    written = [_capture(2), _capture(1), _capture(3, CaptureReason.SAMPLE)]
    assert captures.write_captures(written) == 3
    assert captures.captures("var_engine") == sorted(written, key=lambda c: c.at)
    assert captures.captures("var_engine", reason="sample") == [written[2]]
    assert captures.captures("var_engine", since=1_700_000_002.0, until=1_700_000_003.0) == [written[0]]
    assert captures.count("var_engine", reason="mismatch") == 2
    assert captures.captures("hedge_calculator") == []


def test_request_capture_writes_through_the_store(captures: CaptureStore) -> None:
    """A RequestCapture on the store keeps the request as JSON with both answers."""
    capture = RequestCapture(captures)
    assert capture.capture(
        component="var_engine", routing_key="book-9", at=1_700_000_100.0, reason="mismatch",
        args=({"portfolio": "book-9", "weights": [0.5, 0.5]},), kwargs={"confidence": 0.99},
        mode="full", epoch=7, detail="rel difference 0.02", values=(100.0, 102.0), differences=(2.0, 0.02),
    )  # fmt: skip
    assert capture.flush()
    capture.close()
    [row] = captures.captures("var_engine")
    assert row.payload == '{"args":[{"portfolio":"book-9","weights":[0.5,0.5]}],"kwargs":{"confidence":0.99}}'
    assert row.size == len(row.payload)
    assert (row.legacy_value, row.candidate_value, row.mode, row.epoch) == ("100.0", "102.0", "full", 7)
