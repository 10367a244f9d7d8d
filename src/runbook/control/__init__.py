"""The control plane: state store, ProductionSafetyManager, audit log, gates, observations, baselines,
captured requests.

Never imports Prefect, Great Expectations, Slack or pandas: production routers and the emergency
rollback path depend on it.
"""

from runbook.control.audit import AuditEntry, AuditLog
from runbook.control.baselines import Baseline, BaselineStore
from runbook.control.captures import CaptureStore
from runbook.control.gates import GateStore
from runbook.control.observations import ObservationStore
from runbook.control.safety import ProductionSafetyManager
from runbook.control.store import Store

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
