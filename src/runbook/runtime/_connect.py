"""Wiring a router to control's SQL store, imported lazily so ``import runbook.runtime`` stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.control.observations import ObservationStore
    from runbook.control.store import Store

__all__ = ["connect"]


def connect(database_url: str, *, upgrade: bool = True) -> tuple[Store, ObservationStore]:
    """(state source, observation sink) on the store at ``database_url`` (any SQLAlchemy URL).

    The store doubles as the router's state source; the sink takes a recorder's batches. The
    schema is created or upgraded on first use unless ``upgrade`` is False.
    """
    from runbook.control.observations import ObservationStore
    from runbook.control.store import Store

    store = Store.from_url(database_url, upgrade=upgrade)
    return store, ObservationStore(store)
