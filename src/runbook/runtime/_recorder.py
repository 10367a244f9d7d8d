"""ObservationRecorder: a bounded queue drained by one background thread that writes batches.

``record`` never blocks and never raises: it appends to a ``Mailbox`` (no system call), and a
full queue drops the observation and counts it. The writer collects up to ``batch_size``
observations, or what arrived within ``flush_interval_s`` of the first one, and hands them to
``sink.write_batch``; a failed batch is retried a few times with a short back-off, then counted
as lost (the queue keeps absorbing meanwhile, dropping when full).
"""

from __future__ import annotations

import threading
import time

from runbook.domain.observation import Observation
from runbook.errors import BadParameter
from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._ports import ObservationSink
from runbook.runtime._stats import Counters

__all__ = ["ObservationRecorder"]

_STOP = object()
_RETRY_DELAYS_S = (0.05, 0.2, 1.0)


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
        self._queue = Mailbox(queue_size, max_idle_sleep_s=min(flush_interval_s / 2, 0.02))
        self._batch_size = batch_size
        self._flush_interval = flush_interval_s
        self._counters = Counters(("dropped", "written", "batches", "write_errors", "lost"))
        self._closed = False
        self._closing = threading.Event()
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
        """Write what is queued, then stop the writer thread. Later ``record`` calls drop."""
        if self._closed:
            return
        self._closed = True
        if not self._queue.put(_STOP, timeout_s):
            self._closing.set()
        self._thread.join(timeout_s)

    def stats(self) -> dict[str, int]:
        """Counters: dropped, written, batches, write_errors, lost; plus queued (current depth)."""
        counts = self._counters.snapshot()
        counts["queued"] = len(self._queue)
        return counts

    def __enter__(self) -> ObservationRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drain(self) -> None:
        batch: list[Observation] = []
        deadline = 0.0
        while True:
            wait = None if not batch else max(0.0, deadline - time.monotonic())
            item = self._queue.take(wait)
            while item is not EMPTY:  # take everything already there without sleeping
                if item is _STOP:
                    self._write(batch)
                    return
                if isinstance(item, _FlushMarker):
                    self._write(batch)
                    batch = []
                    item.done.set()
                else:
                    if not batch:
                        deadline = time.monotonic() + self._flush_interval
                    batch.append(Observation(*item) if type(item) is tuple else item)
                    if len(batch) >= self._batch_size:
                        self._write(batch)
                        batch = []
                item = self._queue.poll()
            if batch and time.monotonic() >= deadline:
                self._write(batch)
                batch = []

    def _write(self, batch: list[Observation]) -> None:
        if not batch:
            return
        for delay in (*_RETRY_DELAYS_S, None):
            try:
                self._sink.write_batch(batch)
            except Exception:
                self._counters.incr("write_errors")
                if delay is None or self._closing.wait(delay):
                    break
                continue
            self._counters.incr("written", len(batch))
            self._counters.incr("batches")
            return
        self._counters.incr("lost", len(batch))
