"""Thread-safe named counters: how internal failures become counted reasons instead of exceptions.

Each thread increments its own dict (no lock on the caller's path; a dict owned by one thread
needs none under the GIL); ``snapshot`` sums every thread's dict.
"""

from __future__ import annotations

import threading

__all__ = ["Counters"]


class Counters:
    """Named integer counters, incremented from any thread; ``snapshot()`` adds them up."""

    __slots__ = ("_local", "_lock", "_names", "_per_thread")

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self._names = names
        self._local = threading.local()
        self._lock = threading.Lock()
        self._per_thread: list[dict[str, int]] = []

    def incr(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name`` (created at 0 if new)."""
        try:
            counts: dict[str, int] = self._local.counts
        except AttributeError:
            counts = self._register()
        counts[name] = counts.get(name, 0) + amount

    def _register(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        self._local.counts = counts
        with self._lock:
            self._per_thread.append(counts)
        return counts

    def snapshot(self) -> dict[str, int]:
        """Every counter summed over threads, names sorted (declared names present at 0)."""
        with self._lock:
            dicts = list(self._per_thread)
        total = dict.fromkeys(self._names, 0)
        for counts in dicts:
            for name, value in list(counts.items()):  # one C call: atomic under the GIL
                total[name] = total.get(name, 0) + value
        return dict(sorted(total.items()))

    def __getitem__(self, name: str) -> int:
        return self.snapshot().get(name, 0)
