"""component_state rows as ``ComponentState`` values (no SQLAlchemy: both rollback paths use it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook.control._time import as_utc
from runbook.domain.components import catalog_components
from runbook.domain.modes import Mode
from runbook.domain.state import ComponentState

__all__ = ["catalog_states", "state_from_row"]


def state_from_row(row: Mapping[Any, Any]) -> ComponentState:
    """A ComponentState from a component_state row mapping (``updated_at`` a datetime or None)."""
    return ComponentState(
        component=row["component"],
        mode=Mode(row["mode"]),
        traffic_fraction=float(row["traffic_fraction"]),
        epoch=int(row["epoch"]),
        updated_at=as_utc(row["updated_at"]),
        updated_by=row["updated_by"],
        reason=row["reason"] or "",
    )


def catalog_states(by_name: Mapping[str, ComponentState]) -> dict[str, ComponentState]:
    """Every catalog component's state in catalog order (never-touched ones legacy at 0), then the
    stored rows of components another process's catalog declares (a shared store)."""
    names = [c.value for c in catalog_components()]
    known = {name: by_name.get(name) or ComponentState.initial(name) for name in names}
    return known | {name: state for name, state in by_name.items() if name not in known}
