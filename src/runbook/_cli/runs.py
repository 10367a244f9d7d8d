"""``runbook run PHASE``: a phase flow run in this process with its defaults (no deployment needed)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_phase"]

# Flows that take no component or initiator parameter.
_NO_COMPONENT = frozenset({"nightly_validation", "auto_rollback_monitor"})


_TICKETED = frozenset({"shadow", "canary", "critical", "cleanup"})


def run_phase(phase: str, *, component: str | None, initiator: str, start_ticket: str | None = None) -> Any:
    """Run the ``phase`` flow for ``component`` and return its final Prefect state.

    ``start_ticket`` (from a signed start) makes the initiator verified, for the phases that take one.
    """
    from runbook.orchestration.deployments import load_flow

    flow = load_flow(f"flows/{phase}.py:{phase}")
    kwargs: dict[str, Any] = {}
    if phase == "emergency_rollback":
        kwargs = {"component": component, "actor": initiator}
    elif phase not in _NO_COMPONENT:
        kwargs = {"initiator": initiator}
        if component is not None:
            kwargs["component"] = component
        if start_ticket is not None and phase in _TICKETED:
            kwargs["start_ticket"] = start_ticket
    return flow(**kwargs, return_state=True)
