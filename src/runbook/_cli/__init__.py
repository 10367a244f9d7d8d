"""The command line's handlers, one module per command family, and what they share."""

from __future__ import annotations

import getpass

__all__ = ["os_user"]


def os_user() -> str:
    """The OS login name: who acts when ``--as`` / ``--actor`` is not given ("unknown" without one)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers (getpass raises OSError or KeyError)
        return "unknown"
