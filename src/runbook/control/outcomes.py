"""How a phase run ended, read back from the audit log (Prefect may have failed the run on a
timed-out pause and kept nothing else)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook.control.audit import AuditLog

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["PHASE_COMPLETED", "PHASE_STARTED", "PHASE_STOPPED", "phase_outcome"]

# Audit actions a phase run writes: its start, and how it ended.
PHASE_STARTED, PHASE_COMPLETED, PHASE_STOPPED = "phase_started", "phase_completed", "phase_stopped"

# Enough to reach back over one phase's own rows (state changes, gates, verdicts).
_LOOKBACK = 500


def phase_outcome(store: Store, component: str, flow_run_id: str, *, message: str = "") -> dict[str, Any]:
    """The recorded outcome of phase run ``flow_run_id`` for ``component``.

    When the run recorded none (it failed unexpectedly, or before its phase started, e.g. the
    component was busy or a parameter was refused), a ``failed`` outcome carrying ``message``,
    and the phase when the run had recorded its start.
    """
    phase = ""
    for entry in reversed(AuditLog(store).entries(component=component, limit=_LOOKBACK)):
        if entry.evidence.get("flow_run_id") != flow_run_id:
            continue
        if entry.action in (PHASE_COMPLETED, PHASE_STOPPED):
            return dict(entry.evidence)
        if entry.action == PHASE_STARTED:
            phase = entry.actor.removeprefix("runbook/")
    return {"component": component, "status": "failed", "flow_run_id": flow_run_id, "phase": phase,
            "check": "run", "reason": message or "the phase run ended without recording an outcome"}
