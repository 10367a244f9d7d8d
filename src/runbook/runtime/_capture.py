"""RequestCapture: keeps the requests of chosen calls for offline replay, off the caller's path.

A router hands it the calls worth keeping (mismatches in canary and full, and in shadow a sampled
share of requests); it serializes them on the router's worker threads (never on the caller's
path), and a background thread writes them in batches to a ``CaptureSink``
(``runbook.control.captures.CaptureStore`` on the state store, ``InMemoryCaptureSink`` in tests)::

    capture = RequestCapture(CaptureStore(store), serializer=my_serializer)
    Router(..., capture=capture)

Bounded: at most ``max_requests`` payloads per reason per ``window_s`` (a mismatch beyond that is
still written, with both answers, but without its request), each at most ``max_payload_bytes``
(a larger request is written with its size only); a full queue drops and counts. ``serializer(args,
kwargs) -> str | bytes`` defaults to ``default_serializer`` (JSON); a serializer that raises costs
the payload only, never the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from runbook.domain.capture import CapturedRequest, CaptureReason
from runbook.errors import BadParameter
from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._ports import CaptureSink
from runbook.runtime._serialize import default_serializer, value_text
from runbook.runtime._stats import Counters

__all__ = ["RequestCapture"]

Serializer = Callable[[tuple[Any, ...], dict[str, Any]], "str | bytes"]
_KEY_CHARS = 128
_RETRY_DELAYS_S = (0.05, 0.5)
_STOP = object()
_COUNTERS = ("kept", "written", "dropped", "lost", "payload_too_large", "payload_over_bound",
             "serializer_errors", "write_errors")  # fmt: skip


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class RequestCapture:
    """Serializes and writes captured requests; see the module docstring. ``clock``: Unix seconds."""

    def __init__(
        self,
        sink: CaptureSink,
        *,
        serializer: Serializer | None = None,
        max_payload_bytes: int = 65_536,
        max_requests: int = 1_000,
        window_s: float = 3_600.0,
        max_value_chars: int = 4_096,
        queue_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if min(max_payload_bytes, max_requests, max_value_chars, queue_size) < 1 or not window_s > 0:
            raise BadParameter(
                f"max_payload_bytes {max_payload_bytes!r}, max_requests {max_requests!r}, max_value_chars "
                f"{max_value_chars!r} and queue_size {queue_size!r} must be >= 1, window_s {window_s!r} > 0"
            )
        self._sink = sink
        self._serializer = serializer or default_serializer
        self._max_payload, self._max_requests, self._window = max_payload_bytes, max_requests, window_s
        self._max_value_chars = max_value_chars
        self._clock = clock
        self._queue = Mailbox(queue_size, max_idle_sleep_s=0.05)
        self._counters = Counters(_COUNTERS)
        self._budget_lock = threading.Lock()
        self._budget: dict[str, tuple[float, int]] = {}  # reason -> (window start, payloads kept)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def capture(
        self, *, component: str, routing_key: str, at: float, reason: CaptureReason | str,
        args: tuple[Any, ...], kwargs: dict[str, Any], mode: str = "", epoch: int = 0, detail: str = "",
        values: tuple[object, object] | None = None,
        differences: tuple[float | None, float | None] = (None, None),
    ) -> bool:  # fmt: skip
        """Keep one call; ``values`` = (legacy's answer, candidate's). False when dropped. Never raises."""
        try:
            reason = CaptureReason(reason)
            payload, size, note = self._payload(reason, args, kwargs)
            if payload is None and reason is CaptureReason.SAMPLE:
                return False  # a sample is its request: nothing to keep without it
            legacy_text = candidate_text = None
            if values is not None:
                legacy_text = value_text(values[0], self._max_value_chars)
                candidate_text = value_text(values[1], self._max_value_chars)
            detail = "; ".join(part for part in (detail, note) if part)
            row = CapturedRequest(
                component=component, routing_key=str(routing_key)[:_KEY_CHARS], at=at, reason=reason,
                payload=payload, size=size, mode=mode, epoch=epoch, detail=detail,
                legacy_value=legacy_text, candidate_value=candidate_text,
                abs_difference=differences[0], rel_difference=differences[1],
            )  # fmt: skip
        except Exception:  # noqa: BLE001 - capture never raises into the caller; counted
            self._counters.incr("serializer_errors")
            return False
        return self._enqueue(row)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every capture queued so far is written (or lost); False on timeout."""
        if self._thread is None:
            return len(self._queue) == 0
        marker = _Flush()
        deadline = time.monotonic() + timeout_s
        if not self._queue.put(marker, timeout_s):
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop; later captures are dropped."""
        if self._closed:
            return
        self.flush(timeout_s)
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP, timeout_s)

    def stats(self) -> dict[str, int]:
        """Counters: kept, written, dropped, lost, payload_too_large, payload_over_bound, errors."""
        return self._counters.snapshot()

    # ---- internals -------------------------------------------------------------------------------

    def _payload(self, reason: CaptureReason, args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> tuple[str | None, int, str]:  # fmt: skip
        if not self._take_budget(reason):
            self._counters.incr("payload_over_bound")
            return None, 0, f"request not kept: over {self._max_requests} per {self._window:g} s"
        try:
            written = self._serializer(args, kwargs)
            text = written.decode("utf-8", "replace") if isinstance(written, bytes) else str(written)
        except Exception as exc:  # noqa: BLE001 - capture never raises into the caller; counted
            self._counters.incr("serializer_errors")
            return None, 0, f"request not kept: serializer raised {type(exc).__name__}: {exc}"[:500]
        size = len(text.encode("utf-8"))
        if size > self._max_payload:
            self._counters.incr("payload_too_large")
            return None, size, f"request not kept: {size} bytes over the {self._max_payload}-byte cap"
        return text, size, ""

    def _take_budget(self, reason: CaptureReason) -> bool:
        now = self._clock()
        with self._budget_lock:
            start, used = self._budget.get(reason.value, (now, 0))
            if now - start >= self._window:
                start, used = now, 0
            if used >= self._max_requests:
                return False
            self._budget[reason.value] = (start, used + 1)
            return True

    def _enqueue(self, row: CapturedRequest) -> bool:
        if self._closed or not self._queue.offer(row):
            self._counters.incr("dropped")
            return False
        self._counters.incr("kept")
        if self._thread is None:
            self._start()
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._drain, name="runbook-capture", daemon=True)
                thread.start()
                self._thread = thread

    def _drain(self) -> None:
        while True:
            batch: list[CapturedRequest] = []
            item = self._queue.take()
            while item is not EMPTY:
                if item is _STOP:
                    self._write(batch)
                    return
                if isinstance(item, _Flush):
                    self._write(batch)
                    batch = []
                    item.done.set()
                else:
                    batch.append(item)
                    if len(batch) >= 500:
                        self._write(batch)
                        batch = []
                item = self._queue.poll()
            self._write(batch)

    def _write(self, batch: list[CapturedRequest]) -> None:
        if not batch:
            return
        for delay in (*_RETRY_DELAYS_S, None):
            try:
                self._sink.write_captures(batch)
            except Exception:  # noqa: BLE001 - the writer thread survives any store error; counted
                self._counters.incr("write_errors")
                if delay is None:
                    break
                time.sleep(delay)
                continue
            self._counters.incr("written", len(batch))
            return
        self._counters.incr("lost", len(batch))
