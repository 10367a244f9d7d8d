"""Background threads of the service hold a piece of their work while a caller is inside a call.

A thread that wakes while the caller runs legacy takes the GIL the moment legacy's C code lets it
go, and the caller then waits for the whole piece of work to get it back. ``hold`` waits a little
(50 us at a time, 2 ms at most, so a caller that never leaves cannot stall the work) until
``busy()`` says no caller is inside a call; the piece then runs between the caller's calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["hold"]

_SLEEP_S, _TRIES = 0.00005, 40


def hold(busy: Callable[[], bool]) -> None:
    """Return once ``busy()`` is False, or after about 2 ms."""
    for _ in range(_TRIES):
        if not busy():
            return
        time.sleep(_SLEEP_S)
