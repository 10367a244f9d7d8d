"""The control plane: state store, ProductionSafetyManager, audit log, gates, observations, baselines,
captured requests.

Never imports Prefect, Great Expectations, Slack or pandas: production routers and the emergency
rollback path depend on it. Names load on first use (PEP 562), so ``runbook rollback`` imports the
store, the audit log and the safety manager only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.control.audit import AuditEntry, AuditLog
    from runbook.control.baselines import Baseline, BaselineStore
    from runbook.control.captures import CaptureStore
    from runbook.control.gates import GateStore
    from runbook.control.observations import ObservationStore
    from runbook.control.safety import ProductionSafetyManager
    from runbook.control.store import Store

_HOMES = {
    "AuditEntry": "audit",
    "AuditLog": "audit",
    "Baseline": "baselines",
    "BaselineStore": "baselines",
    "CaptureStore": "captures",
    "GateStore": "gates",
    "ObservationStore": "observations",
    "ProductionSafetyManager": "safety",
    "Store": "store",
}
__all__ = [
    "AuditEntry",
    "AuditLog",
    "Baseline",
    "BaselineStore",
    "CaptureStore",
    "GateStore",
    "ObservationStore",
    "ProductionSafetyManager",
    "Store",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'runbook.control' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"runbook.control.{home}"), name)
    globals()[name] = value
    return value
