"""Prefect events the runbook emits; automations (the emergency rollback deployment) follow them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["ROLLED_BACK", "emit_rolled_back", "resource_id"]

log = logging.getLogger(__name__)

ROLLED_BACK = "runbook.component.rolled_back"


def resource_id(component: str) -> str:
    """The Prefect resource id of a component."""
    return f"runbook.component.{component}"


def emit_rolled_back(component: str, *, source: str, reason: str, evidence: Mapping[str, Any]) -> None:
    """Emit ``runbook.component.rolled_back``; ``source`` says who rolled back (monitor, gate, emergency).

    Never raises: the rollback itself is already recorded in the store, an event is a courtesy.
    """
    from prefect.events import emit_event

    try:
        emit_event(
            event=ROLLED_BACK,
            resource={
                "prefect.resource.id": resource_id(component),
                "prefect.resource.name": component,
                "runbook.component": component,
                "runbook.rollback.source": source,
            },
            payload={"reason": reason, "evidence": {k: _plain(v) for k, v in evidence.items()}},
        )
    except Exception:  # the events client being down must not hide the rollback
        log.exception("could not emit %s for %s", ROLLED_BACK, component)


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
