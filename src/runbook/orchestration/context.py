"""Settings and stores for flows and tasks, built at the edge and shared within a process.

Flows read ``Settings`` from the ``RUNBOOK_*`` environment (the serving process's, for deployed
runs) unless a caller in the same process scoped its own (``runbook demo`` does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from runbook.settings import Settings

if TYPE_CHECKING:
    from runbook.control.store import Store

# Process-wide rather than a context variable: Prefect may run tasks in worker threads.
_OVERRIDE: list[Settings] = []
_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def load_settings() -> Settings:
    """The settings in force: the innermost ``settings_scope``, else the environment's."""
    if _OVERRIDE:
        return _OVERRIDE[-1]
    return Settings()


@contextmanager
def settings_scope(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` the ones flows and tasks in this process use, until the block ends."""
    _OVERRIDE.append(settings)
    try:
        yield settings
    finally:
        _OVERRIDE.remove(settings)


def open_store(settings: Settings | None = None) -> Store:
    """The state store of ``settings`` (schema upgraded once), shared by the process's tasks."""
    from runbook.control.store import Store

    settings = settings or load_settings()
    url = settings.resolved_database_url
    with _STORES_LOCK:
        store = _STORES.get(url)
        if store is None:
            store = _STORES[url] = Store.from_url(url)
        return store


def close_stores() -> None:
    """Dispose of every store this process opened (end of a demo or a test session)."""
    with _STORES_LOCK:
        for store in _STORES.values():
            store.dispose()
        _STORES.clear()
