"""A bounded pool of worker threads for shadow calls, with a watchdog for candidates that hang.

The caller's path does one ``Mailbox.offer`` (a deque append, no system call); a full queue
means the shadow call is skipped (the router counts it), never that the caller waits. Idle
workers poll with a back-off up to 20 ms: a shadow call may start that late, at no cost to
the caller.

A thread cannot be killed, so a candidate that hangs keeps its worker: the watchdog then emits
the job's timeout result, abandons the worker and starts a replacement at once, so ``workers``
threads always serve the queue. ``stuck`` counts abandoned threads still running; jobs stop
calling engines while it is at ``max_stuck`` (``saturated``), so at most about ``workers +
max_stuck`` threads exist at any moment, and a stuck thread whose call finally returns simply ends.
Whatever ``run`` raises (``BaseException`` included) is counted and the worker goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._stats import Counters

__all__ = ["ShadowPool"]

Job = TypeVar("Job")
Result = TypeVar("Result")

_IDLE_SLEEP_MIN_S = 0.0002
_IDLE_SLEEP_MAX_S = 0.02


class _Slot:
    """One worker: busy from just before it takes a job until the job is emitted.

    ``started`` is when the current job began (monotonic seconds; None when idle).
    """

    __slots__ = ("abandoned", "busy", "job", "started", "thread")

    def __init__(self) -> None:
        self.busy = False
        self.job: Any = None
        self.started: float | None = None
        self.abandoned = False
        self.thread: threading.Thread | None = None


class ShadowPool(Generic[Job, Result]):
    """Runs ``run(job)`` on ``workers`` threads and hands each result to ``emit``.

    ``on_hung(job, elapsed_s)`` builds the result of a job still running after ``hung_after_s``;
    the late result of that job, if it ever comes, is discarded.
    """

    def __init__(
        self,
        *,
        run: Callable[[Job], Result],
        emit: Callable[[Result], None],
        on_hung: Callable[[Job, float], Result],
        workers: int,
        queue_size: int,
        hung_after_s: float,
        counters: Counters,
        name: str,
    ) -> None:
        self._run, self._emit, self._on_hung = run, emit, on_hung
        self._mailbox = Mailbox(queue_size, max_idle_sleep_s=_IDLE_SLEEP_MAX_S)
        self._hung_after = hung_after_s
        self._counters = counters
        self._name = name
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._abandoned_alive = 0
        self.max_stuck = 4 * workers
        self._started_count = 0
        self._closed = threading.Event()
        for _ in range(workers):
            self._start_worker()
        self._watchdog = threading.Thread(target=self._watch, name=f"{name}-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def stuck(self) -> int:
        """Abandoned workers whose job is still running."""
        return self._abandoned_alive

    def saturated(self) -> bool:
        """True while ``max_stuck`` abandoned workers are still running: jobs should not call engines."""
        return self._abandoned_alive >= self.max_stuck

    def submit(self, job: Job) -> bool:
        """Queue ``job``; False (and nothing queued) when the queue is full."""
        return self._mailbox.offer(job)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every job submitted so far is finished (or abandoned); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while len(self._mailbox) or self._any_busy():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def _any_busy(self) -> bool:
        with self._lock:
            return any(slot.busy for slot in self._slots)

    def close(self, timeout_s: float = 2.0) -> None:
        """Drop queued jobs, stop the workers and the watchdog; stuck workers are left to finish."""
        self._closed.set()
        dropped = 0
        while self._mailbox.poll() is not EMPTY:
            dropped += 1
        if dropped:
            self._counters.incr("shadow_dropped_on_close", dropped)
        with self._lock:
            live = [slot for slot in self._slots if not slot.abandoned]
        deadline = time.monotonic() + timeout_s
        for slot in live:
            if slot.thread is not None:
                slot.thread.join(max(0.0, deadline - time.monotonic()))
        self._watchdog.join(max(0.0, deadline - time.monotonic()))

    def _start_worker(self) -> None:
        self._started_count += 1
        slot = _Slot()
        slot.thread = threading.Thread(
            target=self._work, args=(slot,), name=f"{self._name}-worker-{self._started_count}", daemon=True
        )
        slot.thread.start()
        self._slots.append(slot)

    def _next_job(self, slot: _Slot) -> Any:
        """Poll for a job with an idle back-off; EMPTY once the pool is closed."""
        sleep = _IDLE_SLEEP_MIN_S
        while not self._closed.is_set():
            slot.busy = True  # before the pop, so wait_idle never sees a popped job as idle
            job = self._mailbox.poll()
            if job is not EMPTY:
                return job
            slot.busy = False
            time.sleep(sleep)
            sleep = min(sleep * 2, _IDLE_SLEEP_MAX_S)
        return EMPTY

    def _work(self, slot: _Slot) -> None:
        while True:
            job = self._next_job(slot)
            if job is EMPTY:
                slot.busy = False
                return
            with self._lock:
                slot.job, slot.started = job, time.monotonic()
            try:
                result = self._run(job)
            except BaseException:  # noqa: BLE001 - run() contains the engines' failures; this is our own bug
                self._counters.incr("internal_errors")
                result = None
            with self._lock:
                if slot.abandoned:  # the watchdog already emitted this job's timeout
                    self._abandoned_alive -= 1
                    return
                slot.job, slot.started = None, None
            if result is not None:
                self._emit_safely(result)
            slot.busy = False

    def _watch(self) -> None:
        interval = max(min(self._hung_after / 4, 0.25), 0.005)
        while not self._closed.wait(interval):
            for job, elapsed in self._collect_hung():
                try:
                    result = self._on_hung(job, elapsed)
                except BaseException:  # noqa: BLE001 - our own bug: counted, the watchdog goes on
                    self._counters.incr("internal_errors")
                    continue
                self._emit_safely(result)

    def _collect_hung(self) -> list[tuple[Any, float]]:
        now = time.monotonic()
        hung: list[tuple[Any, float]] = []
        with self._lock:
            for slot in list(self._slots):
                if slot.abandoned or slot.started is None or now - slot.started <= self._hung_after:
                    continue
                slot.abandoned = True
                self._slots.remove(slot)
                self._abandoned_alive += 1
                self._counters.incr("shadow_abandoned_threads")
                hung.append((slot.job, now - slot.started))
                if not self._closed.is_set():
                    try:
                        self._start_worker()
                    except RuntimeError:  # no thread to be had now: the next hung job tries again
                        self._counters.incr("internal_errors")
        return hung

    def _emit_safely(self, result: Any) -> None:
        try:
            self._emit(result)
        except BaseException:  # noqa: BLE001 - recording never raises into the caller; counted
            self._counters.incr("record_errors")
