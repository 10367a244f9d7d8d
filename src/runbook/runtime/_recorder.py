"""ObservationRecorder: a bounded queue drained by one background thread that writes batches.

``record`` never blocks and never raises: it appends to a ``Mailbox`` (no system call), and a
full queue drops the observation and counts it. The writer collects up to ``batch_size``
observations, or what arrived within ``flush_interval_s`` of the first one, and hands them to
``sink.write_batch`` (or, to a sink that takes plain rows, ``write_rows``: the router's hot paths
and its candidate processes record rows, never building an ``Observation`` per call); while a batch
is open it looks at the queue every 20 ms, never per observation (each wake-up takes the GIL from
the service's own threads). A failed batch is kept and retried with back-off (capped at 1 s) for as
long as the sink keeps failing: through a store outage nothing is lost while the queue has room, and
what arrives once it is full is dropped and counted. Only ``close`` gives up: what is still
unwritten at its deadline is counted as lost. Every observation offered ends up in exactly one of
``written``, ``dropped``, ``lost``, or still ``queued``/``in_flight`` (see ``stats``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from runbook.domain.observation import Observation, observation_from_row, observation_row
from runbook.errors import BadParameter
from runbook.runtime._hold import hold
from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._ports import ObservationSink
from runbook.runtime._stats import Counters

__all__ = ["ObservationRecorder"]

_FIRST_RETRY_S, _MAX_RETRY_S = 0.05, 1.0
_IDLE_WAIT_S = 0.05  # how soon an idle writer notices close()
_OPEN_BATCH_POLL_S = 0.02  # how often a writer with a batch open looks at the queue (and flush markers)
# A batch is written in slices with a pause between them: a sink's write holds the GIL for its
# rows' Python work (about 6 us a row into SQLite), and a thread that keeps taking the GIL back
# between short system calls can hold off the service's own threads for milliseconds.
_SLICE_ROWS = 64
_SLICE_GAP_S = 0.0003


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class ObservationRecorder:
    """Batches observations to ``sink`` from a background thread; see the module docstring.

    queue_size: observations held before new ones are dropped (memory bound).
    batch_size: most observations per ``write_batch`` call.
    flush_interval_s: longest an observation waits in a partial batch, in seconds.
    """

    def __init__(
        self,
        sink: ObservationSink,
        *,
        queue_size: int = 100_000,
        batch_size: int = 1_000,
        flush_interval_s: float = 0.2,
    ) -> None:
        if queue_size < 1 or batch_size < 1 or flush_interval_s <= 0:
            raise BadParameter(
                f"queue_size {queue_size!r} and batch_size {batch_size!r} must be >= 1 and "
                f"flush_interval_s {flush_interval_s!r} > 0"
            )
        self._sink = sink
        self._write_rows = getattr(sink, "write_rows", None)
        self._queue = Mailbox(queue_size, max_idle_sleep_s=min(flush_interval_s / 2, 0.02))
        self._batch_size = batch_size
        self._flush_interval = flush_interval_s
        self._counters = Counters(("dropped", "written", "batches", "write_errors", "lost"))
        self._closed = False
        self._closing = threading.Event()
        self._give_up_at = float("inf")
        self._in_flight = 0
        self._holds: list[Callable[[], bool]] = []
        self._thread = threading.Thread(target=self._drain, name="runbook-recorder", daemon=True)
        self._thread.start()

    def record(self, observation: Observation) -> bool:
        """Queue one observation; False (counted as dropped) if the queue is full or closed."""
        if self._closed:
            self._counters.incr("dropped")
            return False
        if self._queue.offer(observation):
            return True
        self._counters.incr("dropped")
        return False

    def _record_row(self, row: tuple[object, ...]) -> bool:
        """``record`` for the caller's path: ``row`` holds Observation's fields in order, and the
        writer thread builds the Observation (about 2 us saved per call)."""
        if self._closed:
            self._counters.incr("dropped")
            return False
        if self._queue.offer(row):
            return True
        self._counters.incr("dropped")
        return False

    def _record_rows(self, rows: list[tuple[object, ...]]) -> int:
        """``_record_row`` for many rows at once; how many were dropped (counted)."""
        taken = 0 if self._closed else self._queue.offer_all(rows)
        if taken < len(rows):
            self._counters.incr("dropped", len(rows) - taken)
        return len(rows) - taken

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything recorded before this call is written (or lost); False on timeout."""
        if self._closed:
            return not self._thread.is_alive()
        marker = _FlushMarker()
        deadline = time.monotonic() + timeout_s
        if not self._queue.put(marker, timeout_s):
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer thread. Later ``record`` calls drop.

        What cannot be written within ``timeout_s`` (the sink keeps failing) is counted as lost.
        """
        if self._closed:
            return
        self._closed = True
        self._give_up_at = time.monotonic() + timeout_s
        self._closing.set()
        self._thread.join(timeout_s + 1.0)

    def stats(self) -> dict[str, int]:
        """Counters: dropped, written, batches, write_errors (failed attempts), lost; plus queued
        (waiting in the queue) and in_flight (in the batch being written or retried)."""
        counts = self._counters.snapshot()
        counts["queued"] = len(self._queue)
        counts["in_flight"] = self._in_flight
        return counts

    def __enter__(self) -> ObservationRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drain(self) -> None:
        batch: list[Observation | tuple[object, ...]] = []
        deadline = 0.0
        while True:
            closing = self._closing.is_set()
            # closing: nothing more is waited for, whatever the open batch's deadline
            wait = 0.0 if closing else max(0.0, deadline - time.monotonic()) if batch else _IDLE_WAIT_S
            if batch and not closing:  # a batch is open: let it fill until its deadline, waking rarely
                time.sleep(min(wait, _OPEN_BATCH_POLL_S))
                item = self._queue.poll()
            else:
                item = self._queue.take(wait)
            while item is not EMPTY:  # take everything already there without sleeping
                if isinstance(item, _FlushMarker):
                    self._write(batch)
                    batch = []
                    item.done.set()
                else:
                    if not batch:
                        deadline = time.monotonic() + self._flush_interval
                    batch.append(item)
                    if len(batch) >= self._batch_size:
                        self._write(batch)
                        batch = []
                item = self._queue.poll()
            if batch and (closing or time.monotonic() >= deadline):
                self._write(batch)
                batch = []
            if closing and not batch and len(self._queue) == 0:
                return

    def _write(self, items: list[Observation | tuple[object, ...]]) -> None:
        if not items:
            return
        self._in_flight = len(items)
        write_rows = self._write_rows
        if write_rows is not None:
            batch: list[Any] = [item if isinstance(item, tuple) else observation_row(item) for item in items]
        else:
            batch = [observation_from_row(item) if isinstance(item, tuple) else item for item in items]
        size = _SLICE_ROWS
        for start in range(0, len(batch), size):
            if start:  # the GIL goes to the service's threads between slices, never held for long
                time.sleep(_SLICE_GAP_S)
            self._quiet()
            if not self._write_slice(batch[start : start + size]):
                self._counters.incr("lost", len(batch) - start)  # close() gave up: counted, never silent
                break
            self._in_flight = max(0, len(batch) - start - size)
        self._in_flight = 0

    def hold_while(self, in_call: Callable[[], bool]) -> None:
        """Before each slice, wait (2 ms at most) while ``in_call()`` says a caller is inside a call
        (a router with process isolation registers itself): the write then takes the GIL between
        the caller's calls rather than in the middle of one. Not while the queue is more than half
        full: then writing comes first, so observations are not dropped."""
        self._holds.append(in_call)

    def release(self, in_call: Callable[[], bool]) -> None:
        """Forget a ``hold_while`` (the router closed)."""
        with contextlib.suppress(ValueError):
            self._holds.remove(in_call)

    def _quiet(self) -> None:
        holds = self._holds
        if holds and len(self._queue) * 2 <= self._queue.maxsize:  # else writing them comes first
            hold(lambda: any(in_call() for in_call in holds))

    def _write_slice(self, rows: list[Any]) -> bool:
        """One write, retried with back-off while the sink fails; False once close() gave up."""
        delay = _FIRST_RETRY_S
        while time.monotonic() < self._give_up_at:
            try:
                if self._write_rows is not None:
                    self._write_rows(rows)
                else:
                    self._sink.write_batch(rows)
            except Exception:  # noqa: BLE001 - the writer thread survives any store error; counted
                self._counters.incr("write_errors")
                time.sleep(min(delay, max(0.0, self._give_up_at - time.monotonic())))  # never past close()
                delay = min(delay * 2, _MAX_RETRY_S)
                continue
            self._counters.incr("written", len(rows))
            self._counters.incr("batches")
            return True
        return False
