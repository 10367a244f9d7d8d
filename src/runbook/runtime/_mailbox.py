"""A bounded hand-off from the caller's thread to a background thread, free of system calls.

``queue.Queue.put`` wakes a sleeping consumer through a lock release: a futex system call on the
caller's path, several microseconds on a virtual machine. Here the caller only appends to a
deque (atomic in CPython) after a length check, and the consumer polls, sleeping with a
back-off while idle. The consumer may start an item up to ``max_idle_sleep_s`` late, which
costs nothing on the caller's path and, when idle, a few wake-ups per second.

The bound is checked without a lock, so concurrent producers may overshoot it by at most one
item (or one ``offer_all`` batch) each: memory stays bounded.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

__all__ = ["EMPTY", "Mailbox"]

EMPTY: Any = object()
_MIN_SLEEP_S = 0.0002


class Mailbox:
    """At most about ``maxsize`` items; ``offer`` never blocks, ``take`` polls."""

    __slots__ = ("_items", "_max_sleep", "maxsize")

    def __init__(self, maxsize: int, *, max_idle_sleep_s: float) -> None:
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._max_sleep = max(max_idle_sleep_s, _MIN_SLEEP_S)

    @property
    def items(self) -> deque[Any]:
        """The deque itself, for a producer on a hot path that checks ``len(items) < maxsize`` and
        appends without a method call of its own (``Router.call``)."""
        return self._items

    def offer(self, item: Any) -> bool:
        """Append ``item`` unless full; False when full. Never blocks, never raises."""
        if len(self._items) >= self.maxsize:
            return False
        self._items.append(item)
        return True

    def put(self, item: Any, timeout_s: float) -> bool:
        """Append ``item``, waiting up to ``timeout_s`` for room (not for the caller's path)."""
        deadline = time.monotonic() + timeout_s
        while not self.offer(item):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_MIN_SLEEP_S * 5)
        return True

    def poll(self) -> Any:
        """The oldest item, or EMPTY."""
        try:
            return self._items.popleft()
        except IndexError:
            return EMPTY

    def offer_all(self, items: list[Any]) -> int:
        """Append as many of ``items`` as there is room for, in order; how many were appended."""
        room = self.maxsize - len(self._items)
        if room <= 0:
            return 0
        taken = items if room >= len(items) else items[:room]
        self._items.extend(taken)
        return len(taken)

    def take_up_to(self, count: int) -> list[Any]:
        """Up to ``count`` of the oldest items, without waiting (one consumer only)."""
        popleft, items = self._items.popleft, []
        for _ in range(min(count, len(self._items))):
            items.append(popleft())
        return items

    def peek(self) -> Any:
        """The oldest item, left in place, or EMPTY."""
        try:
            return self._items[0]
        except IndexError:
            return EMPTY

    def take(self, timeout_s: float | None = None) -> Any:
        """The oldest item, waiting up to ``timeout_s`` (None: forever); EMPTY on timeout."""
        item = self.poll()
        if item is not EMPTY:
            return item
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        sleep = _MIN_SLEEP_S
        while True:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return EMPTY
                time.sleep(min(sleep, remaining))
            else:
                time.sleep(sleep)
            item = self.poll()
            if item is not EMPTY:
                return item
            sleep = min(sleep * 2, self._max_sleep)

    def __len__(self) -> int:
        return len(self._items)
