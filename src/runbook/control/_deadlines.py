"""``Deadlines``: a client-side bound on PostgreSQL transactions (stdlib only; see ``_engine``)."""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from runbook.errors import StoreUnavailable

__all__ = ["Deadlines"]


class Deadlines:
    """One watchdog thread per store that cuts PostgreSQL sockets whose transaction overran.

    ``arm(fd, seconds)`` returns a token; ``disarm(token)`` returns True when the deadline had
    already fired (the socket was shut down, so the caller's error is a timeout).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, int] = {}
        self._fired: set[int] = set()
        self._tokens = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        token = next(self._tokens)
        with self._cond:
            self._live[token] = fd
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, fd))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="runbook-store-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    @contextmanager
    def guard(self, fd: int, seconds: float, store: str) -> Iterator[None]:
        """Arm around the block; a cut socket's error becomes "did not answer within" (StoreUnavailable)."""
        token = self.arm(fd, seconds)
        try:
            yield
        except Exception as exc:
            if self.disarm(token):
                raise StoreUnavailable(
                    f"state store {store} did not answer within {seconds:g} s (RUNBOOK_STORE_TIMEOUT_S)"
                ) from exc
            raise
        finally:
            self.disarm(token)

    def disarm(self, token: int) -> bool:
        with self._cond:
            self._live.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
        return False

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # disarmed in time
                if not self._heap:
                    self._cond.wait()
                    continue
                due, token, fd = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.pop(token, None)
                self._fired.add(token)
                _cut(fd)


def _cut(fd: int) -> None:
    # shutdown() acts on the socket itself (not on this duplicate descriptor): the driver's pending
    # read returns at once with "server closed the connection".
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
