"""Phase locks on the session's Prefect server: a slot left behind by a run that no longer runs is
reclaimed (once), a live holder's slot is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

from runbook.control.audit import AuditLog
from runbook.control.phase_locks import PhaseLocks
from runbook.control.store import Store
from runbook.errors import ComponentBusy
from runbook.orchestration.locks import SILENT_AFTER_S, limit_name, phase_lock, reclaim_if_dead

COMPONENT = "performance_analyzer"


@flow
def _finished() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id)


@pytest.fixture
def store(prefect_server: None, sqlite_url: str) -> Iterator[Store]:
    store = Store.from_url(sqlite_url)
    yield store
    store.dispose()


def _leak_slot(holder_run: str, store: Store) -> None:
    """What a Prefect restart leaves: the slot counted as taken, no lease behind it, and our record of
    who held it."""
    name = limit_name(COMPONENT)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=1))
    PhaseLocks(store).record(COMPONENT, flow_run_id=holder_run, phase="canary", lease_id=None)


def _active_slots() -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(limit_name(COMPONENT)).active_slots


def test_a_slot_held_by_a_finished_run_is_reclaimed(store):
    """The slot's recorded holder completed long ago: the next phase reclaims it, audits it, runs,
    and gives the slot back when it ends."""
    _leak_slot(_finished(), store)
    with pytest.raises(ComponentBusy), phase_lock(COMPONENT, phase="cleanup"):
        pass
    with phase_lock(COMPONENT, phase="cleanup", store=store, flow_run_id=_finished()):
        assert _active_slots() == 1
    assert _active_slots() == 0
    entries = AuditLog(store).entries(component=COMPONENT)
    reclaimed = [e for e in entries if e.action == "phase_lock_reclaimed"]
    assert len(reclaimed) == 1
    assert "Completed" in reclaimed[0].reason


def test_a_live_holder_keeps_its_slot_and_a_silent_one_loses_it(store):
    """A holder that still beats is never reclaimed, even in a state Prefect calls running; once its
    process has been silent longer than the limit, it is."""
    live_run = _paused_looking_run()
    _leak_slot(live_run, store)
    assert reclaim_if_dead(store, COMPONENT) is False
    later = datetime.now(UTC) + timedelta(seconds=SILENT_AFTER_S + 1)
    assert reclaim_if_dead(store, COMPONENT, now=later) is True
    assert reclaim_if_dead(store, COMPONENT, now=later) is False  # one claimant only
    assert _active_slots() == 0
    assert PhaseLocks(store).holder(COMPONENT) is None


def _paused_looking_run() -> str:
    """A flow run Prefect reports as running (not final), with no process behind it."""
    from prefect.client.schemas.objects import StateType
    from prefect.states import State

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(_finished, name="holder-without-process")
        client.set_flow_run_state(run.id, State(type=StateType.RUNNING), force=True)
    return str(run.id)
