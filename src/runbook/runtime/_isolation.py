"""Candidate threads: a sync candidate in canary or full runs off the caller's thread, within a budget.

The caller hands the call to an idle worker and waits for it at most ``timeout_s``; a worker that
is still busy at the deadline keeps running (a thread cannot be interrupted) but is abandoned: its
late answer is discarded, and the next call gets another worker. Workers are started on demand, up
to ``workers`` live ones, and up to ``4 * workers`` abandoned ones may still be stuck at once. A call
that finds no idle worker and may not start one (every live worker is busy, or too many are stuck
in a hung candidate) is not run at all: ``SKIPPED`` comes back at once, and the caller asks old.
So the caller never waits longer than the budget, and threads and memory stay bounded.

The hand-off costs two thread wake-ups per call (a lock released by each side), tens of
microseconds; ``Router(candidate_isolation="inline")`` trades this isolation for that time.

``seconds`` in every outcome is the candidate's own duration as its worker measured it (the
hand-off excluded, so monitors compare it fairly with legacy's inline latency), or the caller's
wait when the worker was abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from runbook.domain.observation import ErrorKind
from runbook.runtime._stats import Counters

__all__ = ["CandidateThreads", "Outcome"]

_perf = time.perf_counter
Outcome = tuple[Any, ErrorKind, float]  # (value or exception, error kind, seconds)
_STUCK_PER_WORKER = 4


class _Job:
    """One call handed to a worker; ``notify`` wakes the caller once the worker is done with it."""

    __slots__ = ("abandoned", "args", "finished", "fn", "kwargs", "notify", "ok", "seconds", "value")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 notify: Callable[[], object]) -> None:  # fmt: skip
        self.fn, self.args, self.kwargs, self.notify = fn, args, kwargs, notify
        self.value: Any = None
        self.ok = False
        self.seconds = 0.0
        self.finished = False
        self.abandoned = False

    def outcome(self) -> Outcome:
        return self.value, ErrorKind.NONE if self.ok else ErrorKind.EXCEPTION, self.seconds


class _Worker:
    """A thread waiting on ``go`` for its next ``job`` (None: stop)."""

    __slots__ = ("go", "job")

    def __init__(self) -> None:
        self.go = threading.Lock()
        self.go.acquire()
        self.job: _Job | None = None


class CandidateThreads:
    """Runs ``fn(*args, **kwargs)`` on a worker thread for a caller that waits at most a budget."""

    def __init__(self, *, workers: int, counters: Counters, name: str) -> None:
        self._max_live = workers
        self._max_stuck = _STUCK_PER_WORKER * workers
        self._counters = counters
        self._name = name
        self._lock = threading.Lock()
        self._idle: deque[_Worker] = deque()
        self._live = 0  # workers started and not abandoned (idle or busy)
        self._stuck = 0  # abandoned workers still running their candidate
        self._started = 0
        self._closed = False

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
            timeout_s: float) -> Outcome:  # fmt: skip
        """Call ``fn`` on a worker and wait up to ``timeout_s`` seconds for it; never raises."""
        worker = self._take_worker()
        if worker is None:
            return None, ErrorKind.SKIPPED, 0.0
        done = threading.Lock()
        done.acquire()
        job = _Job(fn, args, kwargs, done.release)
        start = _perf()
        self._hand(worker, job)
        if done.acquire(timeout=timeout_s) or not self._abandon(job):
            return job.outcome()
        return _late(timeout_s), ErrorKind.TIMEOUT, _perf() - start

    async def arun(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   timeout_s: float) -> Outcome:  # fmt: skip
        """``run`` for a caller on an event loop: the loop keeps running while the worker does."""
        worker = self._take_worker()
        if worker is None:
            return None, ErrorKind.SKIPPED, 0.0
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        job = _Job(fn, args, kwargs, lambda: loop.call_soon_threadsafe(_resolve, future))
        start = _perf()
        self._hand(worker, job)
        try:
            finished, _pending = await asyncio.wait((future,), timeout=timeout_s)
        except asyncio.CancelledError:  # the caller went away: its worker is on its own now
            self._abandon(job)
            raise
        if finished or not self._abandon(job):
            return job.outcome()
        return _late(timeout_s), ErrorKind.TIMEOUT, _perf() - start

    def close(self) -> None:
        """Stop idle workers; busy ones stop after their call, stuck ones when their candidate returns."""
        with self._lock:
            self._closed = True
        idle: list[_Worker] = []
        while True:  # pop, like callers do, so that each idle worker is taken by exactly one side
            try:
                idle.append(self._idle.pop())
            except IndexError:
                break
        for worker in idle:
            worker.job = None
            worker.go.release()

    # ---- internals -------------------------------------------------------------------------------

    def _take_worker(self) -> _Worker | None:
        try:
            return self._idle.pop()  # atomic; the most recently used worker, its stack still warm
        except IndexError:
            pass
        with self._lock:
            if self._closed or self._live >= self._max_live or self._stuck >= self._max_stuck:
                return None
            self._live += 1
            self._started += 1
            number = self._started
        worker = _Worker()
        try:
            threading.Thread(target=self._work, args=(worker,), name=f"{self._name}-{number}",
                             daemon=True).start()  # fmt: skip
        except RuntimeError:  # the interpreter cannot start a thread (shutting down, or out of them)
            with self._lock:
                self._live -= 1
            self._counters.incr("internal_errors")
            return None
        return worker

    @staticmethod
    def _hand(worker: _Worker, job: _Job) -> None:
        worker.job = job
        worker.go.release()

    def _abandon(self, job: _Job) -> bool:
        """Give up on ``job`` past its deadline; False when its worker finished just in time."""
        with self._lock:
            if job.finished:
                return False
            job.abandoned = True
            self._live -= 1
            self._stuck += 1
        self._counters.incr("candidate_abandoned_threads")
        return True

    def _work(self, worker: _Worker) -> None:
        while True:
            worker.go.acquire()
            job, worker.job = worker.job, None
            if job is None:
                return
            start = _perf()
            try:
                job.value, job.ok = job.fn(*job.args, **job.kwargs), True
            except BaseException as exc:  # noqa: BLE001 - anything new raises is new's failure, never this thread's end
                job.value = exc
            job.seconds = _perf() - start
            with self._lock:
                if job.abandoned:  # the caller has long been answered by old
                    self._stuck -= 1
                    return
                job.finished = True
                stop = self._closed
                if stop:
                    self._live -= 1
                else:
                    self._idle.append(worker)  # before notify: the woken caller's next call finds it
            with contextlib.suppress(RuntimeError):  # an async caller's loop closed: nobody waits
                job.notify()
            if stop:
                return


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _late(timeout_s: float) -> TimeoutError:
    return TimeoutError(f"candidate still running after its budget of {timeout_s} s")
