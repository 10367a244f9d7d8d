"""The router's in-process copy of one component's routing state.

A background thread polls the state source every ``refresh_interval_s``; the caller's path only
reads ``snapshot`` (one attribute) and compares its age with the clock. When the source stops
answering the snapshot ages, and past ``max_staleness_s`` the router serves legacy (fail safe).

A source may also push: ``subscribe(callback) -> unsubscribe`` (control's store LISTENs on
PostgreSQL and watches the file on SQLite). A signal wakes the thread to refresh at once; many
signals between two reads make one read, and the poll stays as the fallback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from runbook.domain.modes import Mode
from runbook.domain.state import ComponentState
from runbook.runtime._ports import StateSource
from runbook.runtime._stats import Counters

__all__ = ["Snapshot", "StateCache"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the router knows: mode, candidate fraction in [0, 1], epoch, and when it was read.

    ``fetched_at`` is the router clock (seconds) at the start of the read that produced it.
    """

    mode: Mode
    traffic_fraction: float
    epoch: int
    fetched_at: float


# Never read: infinitely old, so the router serves legacy until the first read succeeds.
NEVER_READ = Snapshot(Mode.LEGACY, 0.0, -1, float("-inf"))


class StateCache:
    """Keeps ``snapshot`` fresh from ``source`` for one component; see the module docstring."""

    def __init__(
        self,
        source: StateSource,
        component: str,
        *,
        refresh_interval_s: float,
        clock: Callable[[], float],
        counters: Counters,
    ) -> None:
        self.snapshot: Snapshot = NEVER_READ
        self._source = source
        self._component = component
        self._interval = refresh_interval_s
        self._clock = clock
        self._counters = counters
        self._signature: object = None
        self._signature_fn = getattr(source, "epoch_signature", None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Read once now (so a fresh router routes at once), then keep polling in the background."""
        self.refresh()
        subscribe = getattr(self._source, "subscribe", None)
        if callable(subscribe):
            try:
                self._unsubscribe = subscribe(self._wake.set)
            except Exception:  # noqa: BLE001 - no push then: the poll alone keeps the state fresh
                self._counters.incr("state_refresh_errors")
        self._thread = threading.Thread(
            target=self._run, name=f"runbook-state-{self._component}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def refresh(self) -> bool:
        """Read the state now; True when the source answered. Never raises."""
        with self._lock:  # one read at a time: a manual refresh and the poller don't interleave
            started = self._clock()
            try:
                self._read(started)
            except Exception:  # noqa: BLE001 - an unreadable store keeps the last state (fail safe); counted
                self._counters.incr("state_refresh_errors")
                return False
            self._counters.incr("state_refreshes")
            return True

    def _read(self, started: float) -> None:
        signature = self._signature_fn() if self._signature_fn is not None else None
        current = self.snapshot
        if signature is not None and signature == self._signature and current is not NEVER_READ:
            self.snapshot = Snapshot(current.mode, current.traffic_fraction, current.epoch, started)
            return
        states = self._source.states()
        state = states.get(self._component) or ComponentState.initial(self._component)
        self.snapshot = Snapshot(Mode(state.mode), float(state.traffic_fraction), int(state.epoch), started)
        self._signature = signature

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()  # before reading: a signal during the read makes one more read
            if self._stop.is_set():
                return
            self.refresh()
