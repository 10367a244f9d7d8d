"""What a candidate's worker process runs: import the candidate, then answer calls one at a time.

Started as a fresh interpreter (``boot``: none of the service's threads, locks or open connections
are inherited, and unlike ``multiprocessing``'s spawn the service's main script is never re-run),
it receives the service's ``sys.path`` and then imports only this module, the serializer and the
candidate. Its owner pins numeric libraries to one thread in its environment (a worker must not
fight the service for its cores), and it asks the kernel to kill it if its owner dies. Given a
cap (bytes the candidate may use on top of what the worker holds once the candidate is
imported), it limits its own address space to its size at that moment plus the cap
(``RLIMIT_AS``), so an allocation past the cap fails inside the worker with ``MemoryError``
instead of growing the host.

Per call it measures the candidate's duration. Memory is sampled: one call in ``memory_every``
is run a second time, after its answer has been sent, under ``tracemalloc`` (the peak traced
allocation during that run, bytes; numpy reports its arrays to tracemalloc), and the figure
rides on the worker's next reply. Tracing slows a numpy engine several times over, so it never
runs on the call that is timed or waited for. Only this process is traced, and it runs nothing
else meanwhile, so the figure is the candidate's own; the repeated call's result is dropped.

A batch of shadow calls (``_batch``) comes with legacy's answers and what each call's observation
needs (key, time, legacy's latency, the router's state snapshot for mode and epoch): each call is
run, judged against legacy's answer with the router's judge (``validate``, ``compare``,
tolerances, sent once at start; when it cannot be rebuilt here the answers go back whole and the
router judges them), and its observation is built here as a plain row. The whole batch goes back
as one small pickled record (rows, counters, new's failures for the breaker, and only for a
mismatch new's value, which the capture keeps): the service does no work per call beyond its
share of two ``pickle`` calls. Before each call the worker writes which call of which batch it
starts, and when, into a few bytes of memory it shares with its owner (``progress``): the owner
reads them only to enforce the budget, or to know which call a dying worker was running. A
sampled shadow call is traced right after it ran, so the figure is on its own row.

After answering, a worker whose resident memory (RSS) grew past the cap, or whose candidate
raised ``MemoryError``, exits: its owner replaces it (a leak never accumulates).

An ``async def`` candidate runs on the worker's own event loop, one call at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import inspect
import mmap
import os
import pickle
import resource
import signal
import socket
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from runbook.domain.observation import ErrorKind
from runbook.runtime._hashing import digest_or_none
from runbook.runtime._jobs import _KEY_CHARS
from runbook.runtime._judge import Judge
from runbook.runtime._stats import Counters
from runbook.runtime._wire import Serializer, receive, send, send_record

__all__ = ["ANSWER", "CALL", "PROGRESS", "RECYCLE_EXIT", "SHADOW_BATCH", "UNDECODABLE", "BatchReply", "Reply",
           "boot", "resolve_target", "worker_main"]  # fmt: skip

READY = b"ready"
CALL, SHADOW_BATCH = b"c", b"b"  # a request's first frame: one call, or a batch of shadow calls
# a call's reply's first frame: the answer (by the component's serializer) follows, or the request
# could not be decoded here (the reason follows, as text)
ANSWER, UNDECODABLE = b"a", b"u"
RECYCLE_EXIT = 77  # a worker leaving on purpose after its reply (memory cap passed)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PR_SET_PDEATHSIG = 1

# (ok, value or exception, seconds, peak bytes of the last sampled call or 0, recycle after this
# reply, busy sampling memory after this reply)
Reply = tuple[bool, Any, float, int, bool, bool]
# A batch's outcome, one pickled record: (batch number, calls answered, recycle after it, rows of the
# calls judged here (``observation_row``'s order, enums as values), new's error kind per judged call
# or None when none failed, counters (shadow outcomes, the judge's own), extras). Extras, one per
# call whose value must cross: (index in the batch, new's error kind, the observation's error kind,
# seconds, peak bytes, abs and rel difference, mismatch reason, new's value: ("value", frames by the
# component's serializer of a 1-tuple) or ("unsendable", why)); a mismatch (judged here: the capture
# keeps the value) or a call this worker could not judge (the router judges it). Last, why the
# batch could not be decoded here (nothing ran; the pump sends its calls again one by one), or None.
_Rows = list[tuple[Any, ...]]
BatchReply = tuple[int, int, bool, _Rows, list[str] | None, dict[str, int], _Rows, str | None]
# Progress of the batch in hand, in memory shared with the owner: (batch number, index of the call
# started, time.monotonic() when it started; shared by every process of the machine).
PROGRESS = struct.Struct("<qqd")
_LEGACY_ROUTE = "legacy"


def resolve_target(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """The callable named by ``"package.module:attribute"`` (dots allowed after the colon), or ``target``."""
    if callable(target):
        return target
    module_name, _, attribute = str(target).partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target!r} names a {type(obj).__name__}, not a callable")
    resolved: Callable[..., Any] = obj
    return resolved


def boot() -> None:
    """Entry point of a worker interpreter: ``python -c '...boot()' FD PROGRESS_FD`` (its end of the
    pipe, and the memory it shares with its owner to say which call it is running)."""
    _die_with_owner()
    conn = socket.socket(fileno=int(sys.argv[1]))
    progress = mmap.mmap(int(sys.argv[2]), PROGRESS.size)
    sys.path[:] = pickle.loads(receive(conn)[0])  # before anything of the service is unpickled
    target, serializer, memory_cap_bytes, memory_every = pickle.loads(receive(conn)[0])
    judge = _judge_from(receive(conn)[0])
    worker_main(conn, target, serializer, memory_cap_bytes, memory_every, judge, progress)


def _die_with_owner() -> None:
    with contextlib.suppress(Exception):  # Linux only; elsewhere the closed pipe ends an idle worker
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _judge_from(frame: Any) -> Judge | None:
    """The router's judge (validate, compare, tolerances) rebuilt here; None when it cannot be."""
    try:
        spec = pickle.loads(frame)
        if spec is None:
            return None
        validate, compare, rel_tolerance, abs_tolerance = spec
        return Judge(compare=compare, validate=validate, counters=_TALLY, rel_tolerance=rel_tolerance,
                     abs_tolerance=abs_tolerance)  # fmt: skip
    except Exception:  # noqa: BLE001 - not importable here: the router judges this worker's answers itself
        return None


def worker_main(conn: socket.socket, target: Any, serializer: Serializer, memory_cap_bytes: int | None,
                memory_every: int, judge: Judge | None = None, progress: Any = None) -> None:  # fmt: skip
    """The worker's whole life: set up, say ready, answer calls until the pipe closes."""
    fn = resolve_target(target)
    loop = asyncio.new_event_loop() if _is_async(fn) else None
    rss_limit = None
    if memory_cap_bytes:
        size, resident = _statm()
        resource.setrlimit(resource.RLIMIT_AS, (size + memory_cap_bytes, resource.RLIM_INFINITY))
        rss_limit = resident + memory_cap_bytes
    send(conn, [READY])
    _Answering(conn, fn, loop, serializer, rss_limit, memory_every, judge,
               bytearray(PROGRESS.size) if progress is None else progress).serve()


class _Answering:
    """Answers calls one at a time: single calls (canary, full) and batches of shadow calls."""

    def __init__(self, conn: socket.socket, fn: Callable[..., Any], loop: asyncio.AbstractEventLoop | None,
                 serializer: Serializer, rss_limit: int | None, memory_every: int,
                 judge: Judge | None, progress: Any) -> None:  # fmt: skip
        self.conn, self.fn, self.loop, self.serializer = conn, fn, loop, serializer
        self.rss_limit, self.memory_every, self.judge = rss_limit, memory_every, judge
        self.progress = progress
        self.calls, self.peak = 0, 0

    def serve(self) -> None:
        while True:
            try:
                frames = receive(self.conn)
            except (EOFError, OSError):
                return  # the owner closed the pipe (or is gone): nothing left to answer
            batch = bytes(frames[0]) == SHADOW_BATCH
            head = pickle.loads(frames[1]) if batch else None
            try:  # the component's serializer may fail on a request it wrote: said, never fatal
                if batch:
                    entries = self.serializer.loads(frames[2:])
                else:
                    args, kwargs = self.serializer.loads(frames[1:])
            except Exception as exc:  # noqa: BLE001 - nothing ran: the request is answered as undecodable
                why = f"the request cannot be decoded in the worker: {type(exc).__name__}: {exc}"
                if head is not None:
                    reply: BatchReply = (head[0], 0, False, [], None, {}, [], why)
                    send_record(self.conn, pickle.dumps(reply, protocol=5))
                else:
                    send(self.conn, [UNDECODABLE, why.encode()])
                continue
            del frames
            if head is not None:
                self._batch(head, entries)
                del entries
            else:
                self._answer(args, kwargs)
                del args, kwargs

    def _run(self, args: Any, kwargs: Any) -> tuple[bool, Any, float, bool, bool]:
        """One call: (ok, value or exception, seconds, recycle the worker after it, sample its memory)."""
        start = time.perf_counter()
        ok, value = _call(self.fn, self.loop, args, kwargs)
        seconds = time.perf_counter() - start
        recycle = isinstance(value, MemoryError) or _over(self.rss_limit)
        self.calls += 1
        sample = ok and not recycle and self.calls % self.memory_every == 1 % self.memory_every
        return ok, value, seconds, recycle, sample

    def _answer(self, args: Any, kwargs: Any) -> None:
        ok, value, seconds, recycle, sample = self._run(args, kwargs)
        _reply(self.conn, self.serializer, (ok, value, seconds, self.peak, recycle, sample))
        del value
        if recycle:
            os._exit(RECYCLE_EXIT)
        self.peak = _traced_peak(self.fn, self.loop, args, kwargs) if sample else 0

    def _batch(self, head: Any, entries: list[Any]) -> None:
        """Shadow calls in order, the progress shared before each; one reply for the whole batch
        (sent early, with what was answered, when the worker must leave after a call)."""
        number, budget_s, component, metas = head
        rows: list[tuple[Any, ...]] = []
        errors: list[str] = []
        extras: list[tuple[Any, ...]] = []
        counts: dict[str, int] = {}
        failed, recycle, done = False, False, 0
        for index, ((args, kwargs, legacy_ok, legacy_value, judge_here), meta) in enumerate(
            zip(entries, metas, strict=True)
        ):
            PROGRESS.pack_into(self.progress, 0, number, index, time.monotonic())
            ok, value, seconds, recycle, sample = self._run(args, kwargs)
            peak = 0
            if sample:  # the traced repeat has a budget of its own
                PROGRESS.pack_into(self.progress, 0, number, index, time.monotonic())
                peak = _traced_peak(self.fn, self.loop, args, kwargs)
            done = index + 1
            judge = self.judge if judge_here else None
            if judge is None:
                error = ErrorKind.NONE if ok else ErrorKind.EXCEPTION
                extras.append(self._extra(index, error, error, seconds, peak, (None, None, None), value))
            else:
                error, kind, verdict = judge.shadow(ErrorKind.NONE if ok else ErrorKind.EXCEPTION, value,
                                                    seconds, budget_s=budget_s, legacy_ok=legacy_ok,
                                                    legacy_value=legacy_value)  # fmt: skip
                key, at, legacy_seconds, snap, legacy_digest = meta
                if legacy_ok:
                    legacy_digest = digest_or_none(legacy_value)
                candidate_digest = None if error is ErrorKind.TIMEOUT else digest_or_none(value)
                rows.append((component, snap.mode.value, _LEGACY_ROUTE, str(key)[:_KEY_CHARS], at,
                             legacy_seconds * 1e6, seconds * 1e6, kind.value, verdict[0], verdict[1],
                             legacy_digest, candidate_digest, peak, snap.epoch))  # fmt: skip
                counter = _COUNTER[kind]
                counts[counter] = counts.get(counter, 0) + 1
                errors.append(error.value)
                failed = failed or error is not ErrorKind.NONE
                if kind is ErrorKind.MISMATCH:  # the capture keeps a mismatch's request and both answers
                    extras.append(self._extra(index, error, kind, seconds, peak, verdict, value))
            del value
            if recycle:
                break
        tally = _TALLY.drain()
        if tally:
            for name, amount in tally.items():
                counts[name] = counts.get(name, 0) + amount
        reply = (number, done, recycle, rows, errors if failed else None, counts, extras, None)
        send_record(self.conn, pickle.dumps(reply, protocol=5))
        if recycle:
            os._exit(RECYCLE_EXIT)

    def _extra(self, index: int, error: ErrorKind, kind: ErrorKind, seconds: float, peak: int,
               verdict: tuple[Any, Any, Any], value: Any) -> tuple[Any, ...]:  # fmt: skip
        """A call whose value crosses back: by the component's serializer, or why it cannot."""
        try:
            carried: tuple[str, Any] = ("value", [bytes(frame) for frame in self.serializer.dumps((value,))])
        except Exception as exc:  # noqa: BLE001 - an answer that cannot cross is a failure, said plainly
            why = f"the candidate's result cannot be serialized: {type(exc).__name__}: {exc}"
            carried = ("unsendable", why)
        return (index, error.value, kind.value, seconds, peak, verdict[0], verdict[1], verdict[2], carried)


class _Tally(Counters):
    """The worker judge's counters (validate or compare that raised), handed back with each reply."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def incr(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount

    def drain(self) -> dict[str, int] | None:
        if not self.counts:
            return None
        counts, self.counts = self.counts, {}
        return counts


_TALLY = _Tally()
_COUNTER = {kind: f"shadow_{'ok' if kind is ErrorKind.NONE else kind.value}" for kind in ErrorKind}

def _call(fn: Callable[..., Any], loop: asyncio.AbstractEventLoop | None, args: Any, kwargs: Any
          ) -> tuple[bool, Any]:  # fmt: skip
    try:
        if loop is None:
            return True, fn(*args, **kwargs)
        return True, loop.run_until_complete(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - SystemExit or KeyboardInterrupt from new is new's failure
        return False, exc


def _traced_peak(fn: Callable[..., Any], loop: asyncio.AbstractEventLoop | None, args: Any, kwargs: Any
                 ) -> int:  # fmt: skip
    """Peak bytes allocated while the call runs again under tracemalloc (its result dropped)."""
    tracemalloc.start()
    try:
        _call(fn, loop, args, kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _reply(conn: socket.socket, serializer: Serializer, reply: Reply) -> None:
    try:
        frames = serializer.dumps(reply)
    except Exception as exc:  # noqa: BLE001 - an answer that cannot cross is a failure, said plainly
        ok, value, seconds, peak, recycle, sample = reply
        what = "result" if ok else f"exception {type(value).__name__}: {value}"
        failure = RuntimeError(f"the candidate's {what} cannot be serialized: {type(exc).__name__}: {exc}")
        frames = serializer.dumps((False, failure, seconds, peak, recycle, sample))
    send(conn, [ANSWER, *frames])


def _over(rss_limit: int | None) -> bool:
    return rss_limit is not None and _statm()[1] > rss_limit


def _statm() -> tuple[int, int]:
    """This process's (address space, resident set) in bytes."""
    with open("/proc/self/statm", "rb") as statm:
        size, resident = statm.read().split()[:2]
    return int(size) * _PAGE, int(resident) * _PAGE


def _is_async(fn: Callable[..., Any]) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - the bound __call__ of a callable object
    return inspect.iscoroutinefunction(fn) or (call is not None and inspect.iscoroutinefunction(call))
