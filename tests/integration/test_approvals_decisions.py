"""submit_decision, the one path for gate decisions, on a real SQLite store (no Prefect resume)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runbook.approvals import gate_base, prior_approvers, submit_decision
from runbook.control import AuditLog, GateStore, Store
from runbook.domain.gates import (
    Channel,
    Decision,
    GateDecisionRecord,
    GatePolicy,
    GateRequest,
    GateStatus,
    gate_key,
)
from runbook.errors import ApprovalRefused, UnknownGate

RUN = "5f0c2a1e-7d44-4b1b-9a43-0c3b2e1f9a77"
CRITICAL = GatePolicy(required_approvals=2, forbid_initiator=True)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.from_url(sqlite_url)
    yield store
    store.dispose()


def _key(slot: int = 1, attempt: int = 1) -> str:
    return gate_key(flow_run_id=RUN, phase="critical", component="var_engine", step="canary-5",
                    attempt=attempt, slot=slot)


def _open(store: Store, *, slot: int = 1, policy: GatePolicy = CRITICAL) -> str:
    key = _key(slot)
    GateStore(store).open_request(GateRequest(
        gate_key=key, flow_run_id=RUN, component="var_engine", phase="critical", title="5% -> 25%?",
        critical=policy.required_approvals > 1, policy=policy, initiator="carol", evidence={"calls": 3000},
        created_at=datetime.now(UTC),
    ))
    return key


def _submit(store: Store, key: str, approver: str, decision: Decision = Decision.APPROVE, run: str = RUN):
    return submit_decision(store, flow_run_id=run, gate_key=key, decision=decision, approver=approver,
                           channel=Channel.CLI, comment="checked the numbers")


def _actions(store: Store) -> list[str]:
    return [entry.action for entry in AuditLog(store).entries()]


def test_accepted_decision_is_recorded_audited_and_closes_the_gate(store):
    """An allowed approver's decision is stored, the request is approved, and an audit row written."""
    key = _open(store)
    outcome = _submit(store, key, "alice")
    assert (outcome.accepted, outcome.already_decided, outcome.resumed) == (True, False, False)
    stored = GateStore(store).decision(key)
    assert stored is not None
    assert (stored.approver, stored.decision, stored.channel) == (
        "alice", Decision.APPROVE, Channel.CLI)
    assert GateStore(store).request(key).status is GateStatus.APPROVED
    assert _actions(store) == ["gate_approve"]


def test_second_click_is_already_decided_and_records_nothing_new(store):
    """The first writer wins; a second answer reports the first decision and is audited as duplicate."""
    key = _open(store)
    _submit(store, key, "alice")
    again = _submit(store, key, "bob", Decision.REJECT)
    assert (again.accepted, again.already_decided) == (False, True)
    assert again.record.approver == "alice"
    assert GateStore(store).decision(key).decision is Decision.APPROVE
    assert _actions(store) == ["gate_approve", "gate_decision_duplicate"]


@pytest.mark.parametrize("decision", [Decision.APPROVE, Decision.REJECT])
def test_initiator_may_not_decide_a_critical_gate(store, decision):
    """The run's initiator is refused on a critical gate, approve or reject; the refusal is audited."""
    key = _open(store)
    with pytest.raises(ApprovalRefused, match="'carol' started this run"):
        _submit(store, key, "carol", decision)
    assert GateStore(store).decision(key) is None
    refused = AuditLog(store).entries()[-1]
    assert (refused.action, refused.actor) == ("gate_decision_refused", "carol")


def test_same_person_cannot_fill_both_slots_of_a_critical_gate(store):
    """The second approval slot needs a different approver than the first."""
    first, second = _open(store, slot=1), _open(store, slot=2)
    _submit(store, first, "alice")
    with pytest.raises(ApprovalRefused, match="second, different approver"):
        _submit(store, second, "alice")
    assert _submit(store, second, "bob").accepted


def test_allow_list_is_enforced(store):
    """Someone not on the gate's allow-list is refused."""
    key = _open(store, policy=GatePolicy(allowed_approvers=frozenset({"risk-lead"})))
    with pytest.raises(ApprovalRefused, match="allow-list"):
        _submit(store, key, "mallory")
    assert _submit(store, key, "risk-lead").accepted


def test_unknown_gate_wrong_run_and_closed_gate_are_refused(store):
    """A gate that does not exist, belongs to another run, or is no longer pending is refused."""
    key = _open(store)
    with pytest.raises(UnknownGate, match="no gate"):
        _submit(store, key + "x", "alice")
    with pytest.raises(UnknownGate, match="belongs to run"):
        _submit(store, key, "alice", run="another-run")
    GateStore(store).set_status(key, GateStatus.SUPERSEDED)
    with pytest.raises(ApprovalRefused, match="no longer pending"):
        _submit(store, key, "alice")
    assert _actions(store) == ["gate_decision_refused"] * 3


def test_timeout_is_not_a_decision_people_submit(store):
    """Only approve and reject come from people; a timeout is recorded by the run itself."""
    key = _open(store)
    with pytest.raises(ApprovalRefused, match="timeout"):
        _submit(store, key, "alice", Decision.TIMEOUT)


def test_prior_approvers_count_other_slots_and_attempts_of_the_same_gate():
    """Approvals of other slots or attempts of one gate count; other gates and rejections do not."""
    def record(key: str, who: str, decision: Decision = Decision.APPROVE) -> GateDecisionRecord:
        return GateDecisionRecord(RUN, key, decision, who, Channel.SLACK, datetime.now(UTC))

    other_gate = gate_key(flow_run_id=RUN, phase="critical", component="var_engine", step="canary-25",
                          attempt=1, slot=1)
    records = [record(_key(1, 1), "alice"), record(_key(2, 1), "bob", Decision.REJECT),
               record(other_gate, "erin")]
    assert prior_approvers(records, _key(2, 2)) == {"alice"}
    assert gate_base(_key(1, 1)) == gate_base(_key(2, 3)) != gate_base(other_gate)
