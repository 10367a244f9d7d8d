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
import os
import pickle
import resource
import signal
import socket
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from runbook.runtime._wire import Serializer, receive, send

__all__ = ["RECYCLE_EXIT", "Reply", "boot", "resolve_target", "worker_main"]

READY = b"ready"
RECYCLE_EXIT = 77  # a worker leaving on purpose after its reply (memory cap passed)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PR_SET_PDEATHSIG = 1

# (ok, value or exception, seconds, peak bytes of the last sampled call or 0, recycle after this
# reply, busy sampling memory after this reply)
Reply = tuple[bool, Any, float, int, bool, bool]


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
    """Entry point of a worker interpreter: ``python -c '...boot()' FD`` (FD: its end of the pipe)."""
    _die_with_owner()
    conn = socket.socket(fileno=int(sys.argv[1]))
    sys.path[:] = pickle.loads(receive(conn)[0])  # before anything of the service is unpickled
    target, serializer, memory_cap_bytes, memory_every = pickle.loads(receive(conn)[0])
    worker_main(conn, target, serializer, memory_cap_bytes, memory_every)


def _die_with_owner() -> None:
    with contextlib.suppress(Exception):  # Linux only; elsewhere the closed pipe ends an idle worker
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def worker_main(conn: socket.socket, target: Any, serializer: Serializer, memory_cap_bytes: int | None,
                memory_every: int) -> None:  # fmt: skip
    """The worker's whole life: set up, say ready, answer calls until the pipe closes."""
    fn = resolve_target(target)
    loop = asyncio.new_event_loop() if _is_async(fn) else None
    rss_limit = None
    if memory_cap_bytes:
        size, resident = _statm()
        resource.setrlimit(resource.RLIMIT_AS, (size + memory_cap_bytes, resource.RLIM_INFINITY))
        rss_limit = resident + memory_cap_bytes
    send(conn, [READY])
    calls, peak = 0, 0
    while True:
        try:
            args, kwargs = serializer.loads(receive(conn))
        except (EOFError, OSError):
            return  # the owner closed the pipe (or is gone): nothing left to answer
        start = time.perf_counter()
        ok, value = _call(fn, loop, args, kwargs)
        seconds = time.perf_counter() - start
        recycle = isinstance(value, MemoryError) or _over(rss_limit)
        calls += 1
        sample = ok and not recycle and calls % memory_every == 1 % memory_every
        _reply(conn, serializer, (ok, value, seconds, peak, recycle, sample))
        del value
        if recycle:
            os._exit(RECYCLE_EXIT)
        peak = _traced_peak(fn, loop, args, kwargs) if sample else 0
        del args, kwargs


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
    send(conn, frames)


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
