"""Process isolation's parts: the wire format, the breaker over lost workers, options and serializers."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import process_engines as engines
import pytest

from runbook.domain.modes import Mode
from runbook.errors import BadEngine, BadParameter
from runbook.runtime import InMemoryStateSource, Router
from runbook.runtime._wire import PickleSerializer

COMPONENT = "var_engine"


def test_arrays_cross_out_of_band_and_arrive_writable():
    """A contiguous array travels as its own frame, outside the pickle, and comes back equal and writable."""
    returns = np.random.default_rng(3).normal(size=(250, 10))
    serializer = PickleSerializer()
    frames = serializer.dumps(((returns,), {"alpha": 0.99}))
    assert len(frames) == 2
    assert len(frames[0]) < 1_000 < memoryview(frames[1]).nbytes == returns.nbytes
    (args, kwargs) = serializer.loads([bytearray(frame) for frame in frames])
    assert np.array_equal(args[0], returns)
    assert kwargs == {"alpha": 0.99}
    args[0][0, 0] = 1.0  # a candidate may use its copy as scratch space


@pytest.mark.parametrize(
    ("candidate", "match"),
    [(lambda x: x, "cannot be sent to a worker process"), ("process_engines.candidate", "import path"),
     (42, "must be callable")],
)  # fmt: skip
def test_candidates_workers_cannot_import_are_refused(candidate, match):
    """A lambda, a path without ':' or a non-callable is refused at construction, naming it."""
    with pytest.raises(BadEngine, match=match):
        Router(COMPONENT, legacy=engines.legacy, candidate=candidate, state_source=InMemoryStateSource(),
               candidate_isolation="process")  # fmt: skip


@pytest.mark.parametrize(
    ("options", "match"),
    [({"candidate_processes": 0}, "candidate_processes 0"), ({"candidate_memory_cap_bytes": 10}, "10")],
)
def test_bad_process_options_are_refused(options, match):
    """No workers, or a cap too small to run anything, raise BadParameter naming the value."""
    with pytest.raises(BadParameter, match=match):
        Router(COMPONENT, legacy=engines.legacy, candidate=engines.candidate,
               state_source=InMemoryStateSource(), candidate_isolation="process", **options)  # fmt: skip


def test_a_components_own_serializer_carries_calls_both_ways():
    """With a JSON serializer the worker decodes the request and encodes its answer with it."""
    serializer = engines.JsonSerializer()
    pickle.dumps(serializer)  # it travels to the worker
    source = InMemoryStateSource()
    source.set_mode(COMPONENT, Mode.FULL)
    with Router(COMPONENT, legacy=engines.legacy, candidate=engines.candidate, state_source=source,
                candidate_isolation="process", candidate_processes=1, serializer=serializer,
                shadow_timeout_s=5.0) as router:  # fmt: skip
        assert router.wait_for_candidate(120.0)
        for _ in range(2):  # the first answer of new is checked against old's kind of answer first
            assert router.call(21.0, routing_key="k") == 42.0
        assert router.stats()["answered_by_candidate"] == 1
        assert serializer.dumped == 2  # the requests were encoded by it here
        source.set_mode(COMPONENT, Mode.RETIRED)
        router.refresh()
        assert router.call(1.5, routing_key="k") == 3.0  # retired: new alone, in this process


@pytest.mark.parametrize("rows", [250, 40_000])
def test_messages_cross_a_socket_whole_small_in_one_piece_or_large_frame_by_frame(rows):
    """A request with a small or a 3 MiB array comes out of the pipe equal and writable."""
    import socket

    from runbook.runtime._wire import receive, send

    returns = np.random.default_rng(5).normal(size=(rows, 10))
    ours, theirs = socket.socketpair()
    serializer = PickleSerializer()
    sender = threading.Thread(target=send, args=(ours, serializer.dumps(((returns,), {}))))
    sender.start()  # a large message fills the pipe: someone must read while it is written
    (args, _kwargs) = serializer.loads(receive(theirs))
    sender.join()
    ours.close()
    theirs.close()
    assert np.array_equal(args[0], returns)
    args[0][0, 0] = 0.0
