"""Candidate processes: the candidate runs in worker processes the router owns, within a budget.

``Router(candidate_isolation="process")``. A few workers (fresh interpreters started with
``subprocess``: none of the service's threads or locks, and its main script is not re-run, as
``multiprocessing``'s spawn would) each import the candidate once and answer one call at a time over
a pipe (``runbook.runtime._worker``; requests and results cross by the component's serializer,
``runbook.runtime._wire``). The caller sends the call to an idle worker and waits for the answer
at most ``timeout_s``, its thread blocked in ``poll`` (the GIL released): the candidate's CPU time,
memory and crashes all stay in the worker. Every reply carries the candidate's own duration and
a memory sample when it has one (bytes; one call in ``memory_every``, measured by repeating
it under tracemalloc after its answer was sent), which the router records in the observation.

Containment. A worker that overruns the deadline is killed (SIGKILL); one that dies (a segfault,
``os._exit``, the OOM killer) is noticed by its closed pipe; one whose candidate passed its memory
cap leaves after its reply. Each is replaced by the keeper thread, in the background (a spawn
takes about a second), and the call comes back as an exception or a timeout, which the router
answers with legacy and counts: a candidate that keeps killing workers opens the router's
circuit breaker (``_breaker``), which then keeps calls, and so crashes, away. A worker that
cannot start (the candidate does not import) is retried with a back-off, up to a minute apart.

A call that finds no idle worker (all busy, or being replaced) is not run: ``SKIPPED`` at once.

Shadow calls do not go through ``run``: the router's pump (``_batch``) takes idle workers and
sends them batches, judged in the worker; this pool starts, replaces and counts the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any

from runbook.domain.observation import ErrorKind
from runbook.runtime._stats import Counters
from runbook.runtime._wire import PickleSerializer, Serializer, receive, send
from runbook.runtime._worker import CALL, PROGRESS, READY, RECYCLE_EXIT, UNDECODABLE

__all__ = ["CandidateProcesses", "Measured", "RequestUndecodable", "WorkerLost", "describe_exit"]
_START_BACKOFF_S = (0.5, 60.0)  # first and longest wait before starting a worker again after a failure

_perf = time.perf_counter
Measured = tuple[Any, ErrorKind, float, int]  # (value or exception, error kind, seconds, peak bytes)
_KEEPER_TICK_S = 0.5
_BOOT = "from runbook.runtime._worker import boot; boot()"
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class WorkerLost(RuntimeError):
    """The candidate's worker process ended during the call (a crash, a signal, an exit)."""


class RequestUndecodable(RuntimeError):
    """The component's serializer wrote a request that it could not read back in the worker."""


class _Proc:
    """A worker: its process, its end of the pipe, and the memory where it says which shadow call
    it is running (``_worker.PROGRESS``)."""

    __slots__ = ("conn", "process", "progress")

    def __init__(self, process: subprocess.Popen[bytes], conn: socket.socket, progress: Any) -> None:
        self.process, self.conn, self.progress = process, conn, progress


class CandidateProcesses:
    """Runs ``target`` (a callable or ``"module:attribute"``) in ``workers`` processes; see the docstring.

    memory_cap_bytes: what the candidate may use in a worker beyond its imported state (None: no cap).
    memory_every: one call in this many is repeated under tracemalloc to sample its memory.
    """

    def __init__(
        self, target: Any, *, workers: int, counters: Counters, name: str,
        serializer: Serializer | None = None, memory_cap_bytes: int | None = None, memory_every: int = 16,
        start_timeout_s: float = 120.0, judge_spec: Any = None,
    ) -> None:  # fmt: skip
        self._target, self._serializer = target, serializer or PickleSerializer()
        self._judge_blob = _judge_blob(judge_spec)
        self._cap, self._max, self._name = memory_cap_bytes, workers, name
        self._memory_every = memory_every
        self._counters = counters
        self._start_timeout = start_timeout_s
        self._idle: deque[_Proc] = deque()
        self._lock = threading.Lock()
        self._live = 0  # workers started or starting, not lost
        self._lost: list[_Proc] = []  # ended workers still to be reaped
        self._closed = False
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name=f"{name}-keeper", daemon=True)
        self._keeper.start()

    # ---- calls -----------------------------------------------------------------------------------

    def run(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],  # noqa: ARG002 - the pool runs its own target
            timeout_s: float) -> tuple[Any, ErrorKind, float]:  # fmt: skip
        """``CandidateThreads.run``'s contract (``fn`` is the pool's own target); never raises."""
        return self.run_measured(args, kwargs, timeout_s)[:3]

    async def arun(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],  # noqa: ARG002 - its own target
                   timeout_s: float) -> tuple[Any, ErrorKind, float]:  # fmt: skip
        return (await self.arun_measured(args, kwargs, timeout_s))[:3]

    def run_measured(self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float) -> Measured:
        """Send the call to an idle worker and wait up to ``timeout_s`` s; the answer with its peak bytes.

        A caller never waits for a worker: with none idle the call is ``SKIPPED`` at once (shadow
        calls reach the workers in batches, ``_batch``).
        """
        taken = self._take()
        if not isinstance(taken, _Proc):
            return taken
        start = _perf()
        try:
            self._send(taken, args, kwargs)
        except _Unsendable as bad:
            self._release(taken)
            return bad.cause, ErrorKind.EXCEPTION, 0.0, 0
        except (OSError, ValueError):
            return self._died(taken, _perf() - start)
        return self._collect(taken, start, timeout_s)

    async def arun_measured(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float
    ) -> Measured:
        """``run_measured`` for a caller on an event loop: the loop runs on while the worker computes."""
        taken = self._take()
        if not isinstance(taken, _Proc):
            return taken
        start = _perf()
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = taken.conn.fileno()
        try:
            self._send(taken, args, kwargs)
            loop.add_reader(fd, _resolve, readable)
        except _Unsendable as bad:
            self._release(taken)
            return bad.cause, ErrorKind.EXCEPTION, 0.0, 0
        except (OSError, ValueError):
            return self._died(taken, _perf() - start)
        try:
            finished, _pending = await asyncio.wait((readable,), timeout=timeout_s)
        except asyncio.CancelledError:  # the caller went away mid-call: its worker cannot be reused
            self._end(taken, "candidate_worker_killed", kill=True)
            raise
        finally:
            loop.remove_reader(fd)
        if not finished:
            return self._overran(taken, timeout_s, _perf() - start)
        return self._collect(taken, start, max(timeout_s - (_perf() - start), 0.001))

    def _take(self) -> _Proc | Measured:
        """An idle worker (the most recently used), or SKIPPED at once: a caller never waits for one."""
        try:
            return self._idle.pop()  # atomic
        except IndexError:
            self._wake.set()  # in case a worker is missing
        return None, ErrorKind.SKIPPED, 0.0, 0

    def _send(self, proc: _Proc, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            frames = self._serializer.dumps((args, kwargs))
        except Exception as exc:
            self._counters.incr("candidate_serialize_errors")
            raise _Unsendable(exc) from exc
        send(proc.conn, [CALL, *frames])

    def _collect(self, proc: _Proc, start: float, timeout_s: float) -> Measured:
        try:
            frames = receive(proc.conn, timeout_s)
        except TimeoutError:
            return self._overran(proc, timeout_s, _perf() - start)
        except (OSError, EOFError, ValueError):
            return self._died(proc, _perf() - start)
        if bytes(frames[0]) == UNDECODABLE:  # the worker could not read the request; it is fine
            self._counters.incr("candidate_serialize_errors")
            self._release(proc)
            return RequestUndecodable(bytes(frames[1]).decode()), ErrorKind.EXCEPTION, _perf() - start, 0
        try:
            ok, value, seconds, peak, recycle, sampling = self._serializer.loads(frames[1:])
        except Exception as exc:  # noqa: BLE001 - a serializer's own failure: the reply was read whole, the worker is fine
            self._counters.incr("candidate_serialize_errors")
            self._release(proc)
            return exc, ErrorKind.EXCEPTION, _perf() - start, 0
        if recycle:
            self._end(proc, "candidate_worker_recycled")
        else:
            self._release(proc, last=sampling)
        return value, ErrorKind.NONE if ok else ErrorKind.EXCEPTION, seconds, peak

    def _died(self, proc: _Proc, elapsed: float) -> Measured:
        code = _exit_code(proc, 0.05)
        if code == RECYCLE_EXIT:  # left on purpose after a reply this call never read: not a crash
            self._end(proc, "candidate_worker_recycled")
        else:
            self._end(proc, "candidate_worker_deaths")
        return WorkerLost(f"candidate worker died during the call ({_describe(code)})"), \
            ErrorKind.EXCEPTION, elapsed, 0  # fmt: skip

    def _overran(self, proc: _Proc, timeout_s: float, elapsed: float) -> Measured:
        self._end(proc, "candidate_worker_killed", kill=True)
        return TimeoutError(f"candidate still running after its budget of {timeout_s} s"), \
            ErrorKind.TIMEOUT, elapsed, 0  # fmt: skip

    # ---- workers, for the shadow batches (``_batch``) --------------------------------------------

    @property
    def serializer(self) -> Serializer:
        return self._serializer

    @property
    def judges(self) -> bool:
        """Whether workers are given the router's judge (validate, compare) to judge shadow calls."""
        return self._judge_blob != _NO_JUDGE

    def take_idle(self) -> _Proc | None:
        """An idle worker, now, or None."""
        taken = self._take()
        return taken if isinstance(taken, _Proc) else None

    def give_back(self, proc: _Proc) -> None:
        self._release(proc)

    def lose(self, proc: _Proc, counter: str, *, kill: bool = False) -> None:
        """``proc`` ended (or is killed now); counted, replaced in the background."""
        self._end(proc, counter, kill=kill)

    @staticmethod
    def exit_code(proc: _Proc, timeout_s: float) -> int | None:
        return _exit_code(proc, timeout_s)

    # ---- workers ---------------------------------------------------------------------------------

    def _release(self, proc: _Proc, *, last: bool = False) -> None:
        """Back to the idle workers; ``last``: taken after the others (it is busy sampling memory)."""
        if self._closed:
            self._stop(proc)
        elif last:
            self._idle.appendleft(proc)
        else:
            self._idle.append(proc)

    def _end(self, proc: _Proc, counter: str, *, kill: bool = False) -> None:
        """Lose ``proc`` (count it, tell the breaker) and have the keeper start a replacement."""
        if kill:
            _kill(proc)
        self._counters.incr(counter)
        with self._lock:
            self._live -= 1
            self._lost.append(proc)
        self._wake.set()

    def _keep(self) -> None:
        backoff = 0.0
        while not self._closed:
            self._reap()
            while not self._closed and self._reserve():
                proc = self._spawn()
                if proc is None:
                    with self._lock:
                        self._live -= 1
                    self._counters.incr("candidate_worker_start_failures")
                    backoff = min(max(backoff * 2, _START_BACKOFF_S[0]), _START_BACKOFF_S[1])
                    break
                backoff = 0.0
                self._release(proc)
            if backoff:
                self._closing.wait(backoff)
            self._wake.wait(_KEEPER_TICK_S)
            self._wake.clear()

    def _reserve(self) -> bool:
        with self._lock:
            if self._live >= self._max:
                return False
            self._live += 1
            return True

    def _spawn(self) -> _Proc | None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        for name in _ONE_THREAD:
            env.setdefault(name, "1")
        shared = os.memfd_create("runbook-progress")
        try:
            os.ftruncate(shared, PROGRESS.size)
            progress = mmap.mmap(shared, PROGRESS.size)
            fd = theirs.fileno()
            process = subprocess.Popen([sys.executable, "-c", _BOOT, str(fd), str(shared)],
                                       pass_fds=(fd, shared), env=env, stdin=subprocess.DEVNULL)  # fmt: skip
        except Exception:  # noqa: BLE001 - no interpreter could be started: counted, retried with a back-off
            ours.close()
            return None
        finally:
            theirs.close()
            os.close(shared)
        proc = _Proc(process, ours, progress)
        self._counters.incr("candidate_worker_starts")
        try:
            send(ours, [pickle.dumps(sys.path)])
            setup = (self._target, self._serializer, self._cap, self._memory_every)
            send(ours, [pickle.dumps(setup, protocol=5)])
            send(ours, [self._judge_blob])
            if self._started(ours) and bytes(receive(ours, self._start_timeout)[0]) == READY:
                return proc
        except Exception:  # noqa: BLE001 - cannot be pickled, or the worker died importing the candidate
            pass
        _kill(proc)
        self._stop(proc)
        return None

    def _started(self, conn: socket.socket) -> bool:
        """Wait for a new worker's first word, up to the start timeout or until the pool closes."""
        deadline = time.monotonic() + self._start_timeout
        while not select.select([conn], [], [], 0.05)[0]:
            if self._closed or time.monotonic() >= deadline:
                return False
        return True

    def _reap(self) -> None:
        with self._lock:
            lost, self._lost = self._lost, []
        for proc in lost:
            self._stop(proc)

    @staticmethod
    def _stop(proc: _Proc) -> None:
        proc.conn.close()  # an idle worker sees the pipe close and returns
        if _exit_code(proc, 1.0) is None:
            _kill(proc)
            _exit_code(proc, 1.0)

    def ready_workers(self) -> int:
        """Workers idle now."""
        return len(self._idle)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until every worker is started and idle; False after ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        while len(self._idle) < self._max:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop every idle worker and the keeper; a busy worker stops when its caller hands it back."""
        self._closed = True
        self._closing.set()
        self._wake.set()
        self._keeper.join(self._start_timeout)
        while True:
            try:
                proc = self._idle.pop()
            except IndexError:
                break
            self._stop(proc)
        self._reap()


class _Unsendable(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _kill(proc: _Proc) -> None:
    with contextlib.suppress(OSError):  # already gone
        proc.process.kill()


def _exit_code(proc: _Proc, timeout_s: float) -> int | None:
    """The worker's exit code (negative: the signal that killed it), waiting up to ``timeout_s``."""
    try:
        return proc.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return None


def describe_exit(code: int | None) -> str:
    """A worker's exit code in words."""
    return _describe(code)


_NO_JUDGE = pickle.dumps(None)


def _judge_blob(spec: Any) -> bytes:
    """The router's judge for the workers, pickled; without it (a lambda, a closure) the router
    judges the shadow answers itself."""
    if spec is None:
        return _NO_JUDGE
    try:
        return pickle.dumps(spec, protocol=5)
    except Exception:  # noqa: BLE001 - cannot cross: judged in the service, as with the other isolations
        return _NO_JUDGE


def _describe(code: int | None) -> str:
    if code is None:
        return "still exiting"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
