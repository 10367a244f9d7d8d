"""RequestCapture: requests kept for replay, bounded in count and size, never raising."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import numpy as np
import pytest

from runbook.domain.capture import CaptureReason
from runbook.runtime import InMemoryCaptureSink, RequestCapture, default_serializer


@dataclasses.dataclass(frozen=True)
class Request:
    portfolio: str
    weights: np.ndarray


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sink() -> InMemoryCaptureSink:
    return InMemoryCaptureSink()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make(sink: InMemoryCaptureSink, clock: Clock) -> Iterator:
    made: list[RequestCapture] = []

    def build(**options: object) -> RequestCapture:
        capture = RequestCapture(sink, clock=clock, **options)
        made.append(capture)
        return capture

    yield build
    for capture in made:
        capture.close()


def keep(capture: RequestCapture, key: str, reason: str = "mismatch", args: tuple = (1.0,)) -> bool:
    return capture.capture(component="var_engine", routing_key=key, at=5.0, reason=reason, args=args,
                           kwargs={}, values=(1.0, 2.0), differences=(1.0, 1.0))  # fmt: skip


def test_default_serializer_writes_dataclasses_and_arrays_as_json():
    """A dataclass request holding a numpy array becomes JSON naming its type and dtype."""
    text = default_serializer((Request("book-1", np.array([0.25, 0.75])),), {"confidence": np.float64(0.99)})
    decoded = json.loads(text)
    [request] = decoded["args"]
    assert request["__type__"].endswith(":Request")
    weights = {"__ndarray__": [0.25, 0.75], "dtype": "float64"}
    assert request["fields"] == {"portfolio": "book-1", "weights": weights}
    assert decoded["kwargs"] == {"confidence": 0.99}


def test_payloads_are_bounded_per_window_but_mismatches_keep_their_values(make, sink, clock):
    """Past max_requests per window a mismatch is still written with both answers, without its request."""
    capture = make(max_requests=2, window_s=60.0)
    for i in range(3):
        assert keep(capture, f"k{i}")
    assert keep(capture, "s0", reason="sample")  # the sample budget is separate
    clock.now += 60.0
    assert keep(capture, "k3")
    assert capture.flush()
    rows = {c.routing_key: c for c in sink.captures}
    assert [rows[k].payload is not None for k in ("k0", "k1", "k2", "k3")] == [True, True, False, True]
    assert "over 2 per 60 s" in rows["k2"].detail
    assert (rows["k2"].legacy_value, rows["k2"].candidate_value) == ("1.0", "2.0")
    assert rows["s0"].reason is CaptureReason.SAMPLE
    assert capture.stats()["payload_over_bound"] == 1


def test_oversized_request_keeps_only_its_size(make, sink):
    """A request over max_payload_bytes is written without its payload, its size recorded."""
    capture = make(max_payload_bytes=100)
    assert keep(capture, "big", args=("x" * 500,))
    assert capture.flush()
    [row] = sink.captures
    assert row.payload is None
    assert row.size > 500
    assert "over the 100-byte cap" in row.detail


def test_failing_serializer_and_failing_sink_are_counted_not_raised(make, sink):
    """A serializer that raises costs the payload; a sink that fails loses the batch, counted."""

    def broken(args: tuple, kwargs: dict) -> str:
        raise ValueError("cannot write this request")

    capture = make(serializer=broken)
    assert keep(capture, "k0")
    assert capture.flush()
    [row] = sink.captures
    assert row.payload is None
    assert "serializer raised ValueError" in row.detail
    sink.failing = True
    assert keep(capture, "k1")
    assert capture.flush()
    assert capture.stats()["lost"] == 1


def test_sample_without_a_payload_is_not_written(make, sink):
    """A sample is its request: one that cannot be kept is not written at all."""
    capture = make(max_payload_bytes=10)
    assert not keep(capture, "s0", reason="sample", args=("x" * 50,))
    assert capture.flush()
    assert sink.captures == []
