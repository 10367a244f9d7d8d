"""Process isolation's parts: the wire format, the breaker over lost workers, options and serializers."""

from __future__ import annotations

import asyncio
import pickle
import threading

import numpy as np
import process_engines as engines
import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind
from runbook.errors import BadEngine, BadParameter
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router
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


@pytest.mark.parametrize("caller", ["call", "acall"])
def test_a_request_the_components_serializer_cannot_read_back_fails_that_call_only(caller):
    """The component's own serializer fails to decode one request in the worker: legacy answers
    that call (new's exception, counted), the worker lives on and answers the next call itself."""
    source = InMemoryStateSource()
    source.set_mode(COMPONENT, Mode.FULL)
    with Router(COMPONENT, legacy=engines.legacy_of_faulty, candidate="process_engines:faulty",
                state_source=source, candidate_isolation="process", candidate_processes=1,
                serializer=engines.PickyJsonSerializer(), shadow_timeout_s=5.0) as router:  # fmt: skip
        assert router.wait_for_candidate(120.0)

        def ask(x: float, **kwargs: str) -> object:
            if caller == "acall":
                return asyncio.run(router.acall(x, routing_key="k", **kwargs))
            return router.call(x, routing_key="k", **kwargs)

        for _ in range(2):  # the first answer of new is checked against old's kind of answer first
            assert ask(21.0) == 42.0
        assert ask(3.0, fault="poison") == 6.0  # legacy's
        assert ask(4.0) == 8.0  # the same worker, at once: no restart
        stats = router.stats()
    assert stats["answered_by_candidate"] == 2, stats
    assert stats["fallback_exception"] == 1, stats
    assert stats["candidate_serialize_errors"] == 1, stats
    assert stats.get("candidate_worker_deaths", 0) == 0, stats


def test_a_shadow_batch_the_serializer_cannot_read_back_is_judged_call_by_call():
    """One request of a burst cannot be decoded in the worker: its message's calls are sent again one
    by one, so that one call alone is new's exception and every other call is judged clean."""
    source, sink = InMemoryStateSource(), InMemorySink()
    source.set_mode(COMPONENT, Mode.SHADOW)
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    with Router(COMPONENT, legacy=engines.legacy_of_faulty, candidate="process_engines:faulty",
                state_source=source, recorder=recorder, candidate_isolation="process",
                candidate_processes=1, serializer=engines.PickyJsonSerializer(),
                shadow_timeout_s=5.0) as router:  # fmt: skip
        assert router.wait_for_candidate(120.0)
        for i in range(20):
            fault = "poison" if i == 5 else "none"
            assert router.call(float(i + 1), routing_key=f"book-{i}", fault=fault) == 2.0 * (i + 1)
        assert router.flush(60.0)
        stats = router.stats()
    recorder.close()
    assert (stats["calls_shadow"], stats["shadow_ok"], stats["shadow_exception"]) == (20, 19, 1), stats
    assert stats["candidate_serialize_errors"] == 1, stats
    assert stats.get("candidate_worker_deaths", 0) == 0, stats
    failed = [o.routing_key for o in sink.observations if o.error_kind is ErrorKind.EXCEPTION]
    assert failed == ["book-5"]
    assert len(sink.observations) == 20


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
