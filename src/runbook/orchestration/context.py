"""Settings and stores for flows and tasks, built at the edge and shared within a process.

Flows read ``Settings`` from the ``RUNBOOK_*`` environment (the serving process's, for deployed
runs) unless a caller in the same process scoped its own (``runbook demo`` does). A phase hands
its tasks a ``PhaseContext`` (settings, store, notifier, clock) rather than letting them look up
process-wide ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runbook.settings import Settings

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.slack.notifier import Notifier

# Process-wide rather than a context variable: Prefect may run tasks in worker threads.
_OVERRIDE: list[Settings] = []
_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class PhaseContext:
    """What a phase hands its tasks: the settings in force, the state store, the notifier, a clock.

    ``clock`` gives Unix seconds (``time.time`` unless a test injects one).
    """

    settings: Settings
    store: Store
    notifier: Notifier
    clock: Callable[[], float] = field(default=time.time)


def flow_context(settings: Settings | None = None) -> PhaseContext:
    """The context of a flow that runs outside a phase (monitor, nightly validation, migrate)."""
    from runbook.control.gates import GateStore
    from runbook.slack.notifier import make_notifier

    settings = settings or load_settings()
    store = open_store(settings)
    return PhaseContext(settings, store, make_notifier(settings, gate_store=GateStore(store)))


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
