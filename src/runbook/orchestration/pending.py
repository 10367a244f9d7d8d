"""Which gates are waiting right now: paused Prefect runs whose current pause is a stored gate.

Prefect knows which runs are paused and at which key; the store knows what each key asks. A gate
is pending when both agree, which is exactly when ``submit_decision`` would accept an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook.control.gates import GateStore
from runbook.domain.gates import GateRequest, GateStatus

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["PendingGate", "pending_gates"]


@dataclass(frozen=True, slots=True)
class PendingGate:
    """A gate a paused run is waiting on, with the run's Prefect name."""

    request: GateRequest
    run_name: str


def pending_gates(store: Store, *, flow_run_id: str | None = None, limit: int = 200) -> list[PendingGate]:
    """The gates of ``store`` that paused runs wait on now (one run's, when ``flow_run_id`` is given)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    if flow_run_id is not None:
        run_filter.id = FlowRunFilterId(any_=[UUID(flow_run_id)])
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=run_filter, limit=limit)
    gates = GateStore(store)
    found = []
    for run in runs:
        key = run.state.state_details.pause_key if run.state else None
        request = gates.request(key) if key else None
        if request is None or request.status is not GateStatus.PENDING:
            continue
        if request.flow_run_id == str(run.id):
            found.append(PendingGate(request, run.name))
    return sorted(found, key=lambda gate: gate.request.created_at)
