"""GateStore on SQLite and PostgreSQL: requests, status, and first-writer-wins decisions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from runbook.control import GateStore, Store
from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GatePolicy, GateRequest, GateStatus
from runbook.errors import BadParameter

CREATED = datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()


def _request(
    key: str = "canary.var_engine.step-5.run-abcd1234.a1.s1", run: str = "abcd1234-run"
) -> GateRequest:
    return GateRequest(
        gate_key=key,
        flow_run_id=run,
        component="var_engine",
        phase="critical",
        title="var_engine 5% canary",
        critical=True,
        policy=GatePolicy(
            required_approvals=2, allowed_approvers=frozenset({"U1", "U2"}), forbid_initiator=True
        ),
        initiator="U9",
        evidence={"error_rate": 0.0004, "calls": 12_000},
        created_at=CREATED,
        expires_at=CREATED + timedelta(hours=4),
    )


def _decision(key: str, approver: str, decision: Decision = Decision.APPROVE) -> GateDecisionRecord:
    return GateDecisionRecord(
        flow_run_id="abcd1234-run",
        gate_key=key,
        decision=decision,
        approver=approver,
        channel=Channel.SLACK,
        at=CREATED + timedelta(minutes=3),
        comment=f"by {approver}",
    )


def test_request_round_trips(store: Store) -> None:
    """A stored request reads back equal, policy, evidence and timestamps included."""
    gates = GateStore(store)
    gates.open_request(_request())
    assert gates.request(_request().gate_key) == _request()
    assert gates.request("missing") is None


def test_reopening_a_request_keeps_the_first(store: Store) -> None:
    """Opening the same gate key again (a task retry) is harmless and keeps the original."""
    gates = GateStore(store)
    gates.open_request(_request())
    gates.set_status(_request().gate_key, GateStatus.APPROVED)
    gates.open_request(_request())
    assert gates.request(_request().gate_key).status is GateStatus.APPROVED


def test_slack_message_and_status_updates(store: Store) -> None:
    """set_slack_message and set_status change only the named request; pending lists follow."""
    gates = GateStore(store)
    first, second = _request("k.a1.s1"), _request("k.a1.s2")
    gates.open_request(first)
    gates.open_request(second)
    gates.set_slack_message(first.gate_key, "C123", "1715000000.000100")
    gates.set_status(second.gate_key, GateStatus.REJECTED)
    stored = gates.request(first.gate_key)
    assert (stored.slack_channel, stored.slack_ts, stored.status) == (
        "C123",
        "1715000000.000100",
        GateStatus.PENDING,
    )
    assert [r.gate_key for r in gates.pending_for_run("abcd1234-run")] == [first.gate_key]
    with pytest.raises(BadParameter, match="no gate request"):
        gates.set_status("missing", GateStatus.APPROVED)


def test_first_decision_wins(store: Store) -> None:
    """A second decision on the same gate key returns the first one and False."""
    gates = GateStore(store)
    first, wrote = gates.record_decision(_decision("k1", "U1"))
    assert (first.approver, wrote) == ("U1", True)
    stored, wrote = gates.record_decision(_decision("k1", "U2", Decision.REJECT))
    assert (stored, wrote) == (first, False)
    assert gates.decision("k1") == first
    gates.record_decision(_decision("k2", "U2"))
    assert [d.gate_key for d in gates.decisions_for_run("abcd1234-run")] == ["k1", "k2"]


def test_racing_decisions_store_exactly_one(database_url: str) -> None:
    """Six clicks at once from separate pools: one writes, all six see the same stored decision."""
    stores = [Store.from_url(database_url) for _ in range(6)]
    barrier = threading.Barrier(6)
    results: list[object] = [None] * 6

    def click(i: int) -> None:
        barrier.wait()
        try:
            results[i] = GateStore(stores[i]).record_decision(_decision("race", f"U{i}"))
        except Exception as exc:  # noqa: BLE001 - the thread's failure is asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=click, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert all(isinstance(r, tuple) for r in results), results
        assert sum(wrote for _, wrote in results) == 1
        assert len({record for record, _ in results}) == 1
    finally:
        for s in stores:
            s.dispose()
