"""A circuit breaker: a candidate that keeps failing is taken off the path for a cool-down.

closed: every call may run the candidate; ``failures`` calculation errors in a row (exceptions,
timeouts, invalid results) open it. open: no call runs the candidate (each is answered by legacy
and recorded as ``circuit_open``) until ``cool_down_s`` has passed. half-open: one call at a time
probes the candidate; a clean answer closes the breaker, a failure opens it for another cool-down.
The clock is injected (monotonic seconds). ``allow`` on a closed breaker is one attribute read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from runbook.domain.observation import ErrorKind
from runbook.runtime._stats import Counters

__all__ = ["FAILURES", "CircuitBreaker"]

FAILURES = frozenset({ErrorKind.EXCEPTION, ErrorKind.TIMEOUT, ErrorKind.INVALID_RESULT})


class CircuitBreaker:
    """See the module docstring. ``state`` is ``"closed"``, ``"open"`` or ``"half_open"``."""

    def __init__(self, *, failures: int, cool_down_s: float, clock: Callable[[], float],
                 counters: Counters) -> None:  # fmt: skip
        self._threshold = failures
        self._cool_down = cool_down_s
        self._clock = clock
        self._counters = counters
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @property
    def state(self) -> str:
        if self._open_until is None:
            return "closed"
        return "half_open" if self._clock() >= self._open_until else "open"

    @property
    def closed(self) -> bool:
        """Every call may run the candidate (one attribute read)."""
        return self._open_until is None

    def allow(self) -> bool:
        """May this call run the candidate? In half-open, True for one probe at a time."""
        if self._open_until is None:
            return True
        with self._lock:
            if self._open_until is None:
                return True
            if self._probing or self._clock() < self._open_until:
                return False
            self._probing = True
            return True

    def record(self, error: ErrorKind) -> None:
        """The outcome of a call that ``allow`` let through (skipped calls are not outcomes)."""
        if error in FAILURES:
            self._failed()
        elif error is ErrorKind.NONE and (self._in_a_row or self._open_until is not None):
            with self._lock:
                self._in_a_row = 0
                if self._probing:
                    self._open_until, self._probing = None, False
                    self._counters.incr("breaker_closed")
        elif self._probing:  # the probe did not run (no free worker): let another call probe
            with self._lock:
                self._probing = False

    def _failed(self) -> None:
        with self._lock:
            self._in_a_row += 1
            if self._probing or (self._open_until is None and self._in_a_row >= self._threshold):
                self._open_until = self._clock() + self._cool_down
                self._probing = False
                self._counters.incr("breaker_opened")
