"""Online monitoring and automatic rollback (DESIGN.md section 7, ADR-0011 2.3 and 3.3).

``AutoRollbackMonitor`` turns a window of observations into a verdict, CONTINUE / HOLD / ROLLBACK,
with count-based tests and minimum samples; ``CriticalComponentMonitor`` adds hedge effectiveness
for ``hedge_calculator``; ``memory_probe`` measures both engines' peak memory on replayed requests
(observations carry none); ``monitor_and_act`` reads the window from the store and rolls back.
``runbook.monitoring.retention`` (imported on its own: it needs SQLAlchemy) rolls observations up
per minute and prunes raw rows after the retention window.
Importing this package loads neither scipy, pandas nor SQLAlchemy.
"""

from runbook.monitoring._act import monitor_and_act
from runbook.monitoring._decide import decide
from runbook.monitoring._effectiveness import EffectivenessSample, effectiveness_probe, hedge_effectiveness
from runbook.monitoring._health import HealthSummary, summarize
from runbook.monitoring._memory import MemorySample, memory_probe
from runbook.monitoring._monitors import (
    AutoRollbackMonitor,
    CriticalComponentMonitor,
    calls_needed,
    monitor_for,
)
from runbook.monitoring._verdict import Check, CheckStatus, MonitorDecision, Verdict

__all__ = [
    "AutoRollbackMonitor",
    "Check",
    "CheckStatus",
    "CriticalComponentMonitor",
    "EffectivenessSample",
    "HealthSummary",
    "MemorySample",
    "MonitorDecision",
    "Verdict",
    "calls_needed",
    "decide",
    "effectiveness_probe",
    "hedge_effectiveness",
    "memory_probe",
    "monitor_and_act",
    "monitor_for",
    "summarize",
]
