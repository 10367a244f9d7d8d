"""One phase per component at a time: a Prefect global concurrency limit per component.

The limit ``runbook-phase-<component>`` (1 slot) is held with ``strict=True`` for the whole phase,
paused gates included: unlike a deployment's concurrency limit, a global limit's slot is not freed
while the run is paused. Its lease is renewed in the background while the flow waits; a failed
renewal (the server restarted and forgot the lease) does not stop the phase.

Prefect keeps leases in its server's memory: after a restart, releasing a lost lease frees nothing
and the slot leaks. So the holder and its lease are also recorded in the store, and a phase that
finds the slot taken by a run that is no longer running (finished, failed, crashed, cancelled or
unknown to Prefect) reclaims it: the dead run's lease is released if Prefect still knows it, else
the slot is given back directly. Exactly one claimant reclaims (the store arbitrates).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from runbook.domain.components import catalog_components
from runbook.errors import ComponentBusy

if TYPE_CHECKING:
    from runbook.control.store import Store

PREFIX = "runbook-phase-"
LEASE_S = 300.0
HEARTBEAT_S = 20.0  # how often a holder says it is alive (phase_locks.renewed_at)
SILENT_AFTER_S = 120.0  # a holder silent this long has lost its process, whatever Prefect's state says

log = logging.getLogger(__name__)


def limit_name(component: str) -> str:
    """The global concurrency limit guarding ``component``'s phases."""
    return f"{PREFIX}{component}"


def ensure_phase_limits(components: Iterable[str] | None = None) -> list[str]:
    """Create (or reset to 1 slot) the phase limits of ``components`` (all by default)."""
    from prefect.client.orchestration import get_client

    names = [limit_name(str(c)) for c in (components or [c.value for c in catalog_components()])]
    with get_client(sync_client=True) as client:
        for name in names:
            client.upsert_global_concurrency_limit_by_name(name, 1)
    return names


@contextmanager
def phase_lock(
    component: str, *, phase: str, wait_s: float = 0.0, store: Store | None = None,
    flow_run_id: str | None = None,
) -> Iterator[None]:
    """Hold ``component``'s phase slot for the block, or raise ComponentBusy.

    ``wait_s`` 0 refuses at once when another phase holds the slot; a positive value waits up to
    that many seconds. The limit is created first if missing, so a fresh server works. With a
    ``store`` and ``flow_run_id``, the holder is recorded and a slot left by a dead run reclaimed.
    """
    from prefect.concurrency._leases import maintain_concurrency_lease
    from prefect.concurrency._sync import release_concurrency_slots_with_lease

    ensure_phase_limits([component])
    try:
        lease = _acquire(component, phase=phase, wait_s=wait_s, flow_run_id=flow_run_id)
    except ComponentBusy:
        if store is None or not reclaim_if_dead(store, component):
            raise
        lease = _acquire(component, phase=phase, wait_s=wait_s, flow_run_id=flow_run_id)
    beat = None if store is None or flow_run_id is None else _Heartbeat(store, component, flow_run_id)
    try:
        with maintain_concurrency_lease(lease, LEASE_S, raise_on_lease_renewal_failure=False):
            if beat is not None:
                beat.start(phase=phase, lease_id=str(lease))
            yield
    finally:
        if beat is not None:
            beat.stop()
        release_concurrency_slots_with_lease(lease)


class _Heartbeat:
    """Records the holder, then notes every ``HEARTBEAT_S`` that its process still runs the phase."""

    def __init__(self, store: Store, component: str, flow_run_id: str) -> None:
        from runbook.control.phase_locks import PhaseLocks

        self._locks, self._component, self._flow_run_id = PhaseLocks(store), component, flow_run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runbook-phase-heartbeat", daemon=True)

    def start(self, *, phase: str, lease_id: str) -> None:
        self._locks.record(self._component, flow_run_id=self._flow_run_id, phase=phase, lease_id=lease_id)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._locks.heartbeat(self._component, flow_run_id=self._flow_run_id)
            except Exception:  # the store is down for now: the next beat tries again
                log.debug("phase-lock heartbeat failed", exc_info=True)


def _acquire(component: str, *, phase: str, wait_s: float, flow_run_id: str | None) -> UUID:
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease

    name = limit_name(component)
    options: dict[str, Any] = {"max_retries": 0} if wait_s <= 0 else {"timeout_seconds": wait_s}
    holder = ConcurrencyLeaseHolder(type="flow_run", id=UUID(flow_run_id)) if flow_run_id else None
    try:
        response = acquire_concurrency_slots_with_lease([name], 1, strict=True, lease_duration=LEASE_S,
                                                        holder=holder, **options)
    except (TimeoutError, ConcurrencySlotAcquisitionError) as exc:
        raise ComponentBusy(
            f"{component} is busy: another phase holds {name!r} (the {phase} phase was refused; "
            "one phase per component at a time). "
            "See the running or paused flow runs in the Prefect UI."
        ) from exc
    return response.lease_id


def reclaim_if_dead(store: Store, component: str, *, now: datetime | None = None) -> bool:
    """Give back ``component``'s slot if its recorded holder is no longer running; True if reclaimed.

    No longer running: Prefect says the run ended (or does not know it), or the holder's process has
    been silent for ``SILENT_AFTER_S`` (a paused run whose process died stays "Paused" in Prefect).
    """
    from runbook.control.audit import AuditLog
    from runbook.control.phase_locks import PhaseLocks

    holder = PhaseLocks(store).holder(component)
    if holder is None:
        return False
    state = _run_state(holder.flow_run_id)
    silent = holder.silent_for(now or datetime.now(UTC))
    if state is not None and not state.is_final() and silent < SILENT_AFTER_S:
        return False
    if not PhaseLocks(store).take_over(component, dead_flow_run_id=holder.flow_run_id):
        return False  # another claimant reclaimed it first
    _free_slot(component, holder.lease_id)
    where = f"is {state.name}" if state is not None else "is unknown to Prefect"
    if state is not None and not state.is_final():
        where += f" but its process has been silent for {silent:.0f} s"
    AuditLog(store).append(
        component=component, action="phase_lock_reclaimed", actor="runbook",
        reason=f"{limit_name(component)} was held by run {holder.flow_run_id} ({holder.phase}), "
               f"which {where}",
        evidence={"flow_run_id": holder.flow_run_id, "phase": holder.phase, "lease_id": holder.lease_id},
    )
    log.warning("reclaimed %s from run %s, which %s", limit_name(component), holder.flow_run_id, where)
    return True


def _run_state(flow_run_id: str) -> Any:
    """The run's Prefect state, or None when Prefect does not know the run."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(flow_run_id)).state
    except ObjectNotFound:
        return None


def _free_slot(component: str, lease_id: str | None) -> None:
    """Release the dead run's lease if Prefect still has it, else take the slot back directly."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.concurrency._sync import release_concurrency_slots_with_lease

    name = limit_name(component)
    if lease_id:
        release_concurrency_slots_with_lease(UUID(lease_id))
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
        if limit.active_slots >= limit.limit:  # the lease was gone: releasing it freed nothing
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(active_slots=max(0, limit.active_slots - 1))
            )
