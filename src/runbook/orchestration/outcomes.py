"""How a phase run ended, read back from the audit log (Prefect may have failed the run on a
timed-out pause and kept nothing else)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook.control.audit import AuditLog
from runbook.orchestration.phase import PHASE_COMPLETED, PHASE_STOPPED

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["phase_outcome"]

# Enough to reach back over one phase's own rows (state changes, gates, verdicts).
_LOOKBACK = 500


def phase_outcome(store: Store, component: str, flow_run_id: str, *, message: str = "") -> dict[str, Any]:
    """The recorded outcome of phase run ``flow_run_id`` for ``component``.

    When the run recorded none (it failed before its phase started, e.g. the component was busy
    or a parameter was refused), a ``failed`` outcome carrying ``message``.
    """
    for entry in reversed(AuditLog(store).entries(component=component, limit=_LOOKBACK)):
        ended = entry.action in (PHASE_COMPLETED, PHASE_STOPPED)
        if ended and entry.evidence.get("flow_run_id") == flow_run_id:
            return dict(entry.evidence)
    return {"component": component, "status": "failed", "flow_run_id": flow_run_id, "check": "run",
            "reason": message or "the phase run ended without recording an outcome"}
