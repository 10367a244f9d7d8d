"""The decision service on a real store with real ssh-keygen signatures: who may decide, and decisions
that land even when the first resume fails."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook.approvals import PauseInfo, resume_decided, submit_decision, submit_signed_decision
from runbook.control import AuditLog, GateStore, Store
from runbook.domain.gates import Channel, GatePolicy, GateRequest, gate_key
from runbook.errors import ApprovalRefused, UnknownGate
from runbook.signatures import SignedMessage, decision_message, new_nonce, sign

RUN = "9a1b2c3d-0000-4000-8000-000000000001"
CRITICAL = GatePolicy(required_approvals=2, forbid_initiator=True, verified_only=True)


class ScriptedPrefect:
    """A run-resume port written for the test: the run is paused at ``key``; ``fail`` resumes fail."""

    def __init__(self, key: str, *, fail: int = 0) -> None:
        self.key, self.fail, self.resumed = key, fail, []

    def current_pause(self, flow_run_id: str) -> PauseInfo:
        if self.resumed:
            return PauseInfo(None, None, "Running")
        return PauseInfo(self.key, None, "Paused")

    def resume(self, flow_run_id: str, run_input: Mapping[str, str]) -> tuple[bool, str]:
        if self.fail > 0:
            self.fail -= 1
            return False, "ConnectError: the Prefect API went away"
        self.resumed.append(dict(run_input))
        return True, ""


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.from_url(sqlite_url)
    yield store
    store.dispose()


def _open(store: Store, *, policy: GatePolicy = CRITICAL, slot: int = 1) -> str:
    key = gate_key(flow_run_id=RUN, phase="critical", component="var_engine", step="canary-5", attempt=1,
                   slot=slot)
    GateStore(store).open_request(GateRequest(
        gate_key=key, flow_run_id=RUN, component="var_engine", phase="critical", title="5% -> 25%?",
        critical=policy.required_approvals > 1, policy=policy, initiator="alice@firm", evidence={},
        created_at=datetime.now(UTC),
    ))
    return key


def _signed(key_file: Path, gate: str, decision: str = "approve", *, at: int | None = None) -> SignedMessage:
    nonce, when = new_nonce(), int(time.time()) if at is None else at
    text = decision_message(flow_run_id=RUN, gate_key=gate, decision=decision, nonce=nonce, at=when)
    return sign(text, key=key_file, nonce=nonce, at=when)


def _submit_signed(store: Store, signed: SignedMessage, gate: str, keys: dict[str, Path], **kw):
    return submit_signed_decision(store, signed, flow_run_id=RUN, gate_key=gate,
                                  decision=kw.pop("decision", "approve"), allowed_signers=keys["allowed"],
                                  **kw)


def test_typed_names_do_not_count_on_a_critical_gate(store):
    """CLI --as, the Prefect resume form, console and demo names are refused on a verified-only gate."""
    key = _open(store)
    for channel in (Channel.CLI, Channel.PREFECT_UI, Channel.CONSOLE, Channel.DEMO):
        with pytest.raises(ApprovalRefused, match="verified identity"):
            submit_decision(store, flow_run_id=RUN, gate_key=key, decision="approve", approver="U0BOB",
                            channel=channel)
    assert GateStore(store).decision(key) is None
    assert [e.action for e in AuditLog(store).entries()] == ["gate_decision_refused"] * 4


def test_a_signed_cli_decision_counts_as_its_key_owner(store, ssh_signers):
    """A decision signed with bob's key is recorded for bob@firm via cli_signed, whatever name is typed."""
    key = _open(store)
    outcome = _submit_signed(store, _signed(ssh_signers["bob"], key), key, ssh_signers)
    assert outcome.accepted
    record = GateStore(store).decision(key)
    assert (record.approver, record.channel) == ("bob@firm", Channel.CLI_SIGNED)


def test_the_initiator_is_refused_even_when_signed(store, ssh_signers):
    """alice started the run (verified start); her own signed approval is refused and audited."""
    key = _open(store)
    with pytest.raises(ApprovalRefused, match="started this run"):
        _submit_signed(store, _signed(ssh_signers["alice"], key), key, ssh_signers)
    assert AuditLog(store).entries()[-1].actor == "alice@firm"


@pytest.mark.parametrize("case", ["unlisted key", "replay", "stale", "other decision", "no signers file"])
def test_bad_signatures_are_refused_and_audited(store, ssh_signers, case):
    """An unlisted key, a replayed or stale signature, a signature over another decision, or no
    allowed-signers file: refused, audited, nothing recorded."""
    key = _open(store)
    signed = _signed(ssh_signers["erin" if case == "unlisted key" else "bob"], key,
                     at=int(time.time()) - 3600 if case == "stale" else None)
    allowed = None if case == "no signers file" else ssh_signers["allowed"]
    if case == "replay":
        assert _submit_signed(store, signed, key, ssh_signers).accepted
    decision = "reject" if case == "other decision" else "approve"
    expected = {"unlisted key": "not in the allowed-signers", "replay": "already used",
                "stale": "stale", "other decision": "does not name", "no signers file": "ALLOWED_SIGNERS"}
    with pytest.raises(ApprovalRefused, match=expected[case]):
        submit_signed_decision(store, signed, flow_run_id=RUN, gate_key=key, decision=decision,
                               allowed_signers=allowed)
    assert (GateStore(store).decision(key) is None) is (case != "replay")
    assert AuditLog(store).entries()[-1].action == "gate_decision_refused"


def test_a_replayed_signature_is_refused_through_the_shared_store(store, ssh_signers, sqlite_url):
    """The same signed decision offered again (from another process's store handle) is a replay."""
    key = _open(store, policy=GatePolicy(verified_only=True))
    signed = _signed(ssh_signers["bob"], key)
    other = Store.from_url(sqlite_url)
    try:
        assert _submit_signed(other, signed, key, ssh_signers).accepted
    finally:
        other.dispose()
    with pytest.raises(ApprovalRefused, match="already used"):
        _submit_signed(store, signed, key, ssh_signers)


def test_a_failed_resume_is_reported_listed_and_retried_until_it_lands(store):
    """The decision is recorded but the resume fails: the outcome says so, the decision is listed as
    not resumed, a second answer retries and delivers it, and it is not delivered twice."""
    key = _open(store, policy=GatePolicy())
    prefect = ScriptedPrefect(key, fail=2)
    first = submit_decision(store, flow_run_id=RUN, gate_key=key, decision="approve", approver="bob",
                            channel=Channel.CLI, resumer=prefect)
    assert (first.accepted, first.resumed, first.resume_failed) == (True, False, True)
    assert "runbook resume" in first.message
    assert [r.gate_key for r in GateStore(store).not_resumed()] == [key]

    again = submit_decision(store, flow_run_id=RUN, gate_key=key, decision="reject", approver="erin",
                            channel=Channel.CLI, resumer=prefect)
    assert (again.already_decided, again.resume_failed) == (True, True)
    landed = resume_decided(store, flow_run_id=RUN, gate_key=key, resumer=prefect)
    assert (landed.resumed, landed.resume_failed) == (True, False)
    assert prefect.resumed == [{"decision": "approve", "approver": "bob", "comment": ""}]
    assert GateStore(store).not_resumed() == []
    assert resume_decided(store, flow_run_id=RUN, gate_key=key, resumer=prefect).resumed
    assert len(prefect.resumed) == 1


def test_another_runs_id_is_refused_and_audited(store):
    """A decision naming another run's id is refused as an unknown gate, with an audit row."""
    key = _open(store, policy=GatePolicy())
    with pytest.raises(UnknownGate, match="belongs to run"):
        submit_decision(store, flow_run_id="someone-elses-run", gate_key=key, decision="approve",
                        approver="bob", channel=Channel.CLI)
    entry = AuditLog(store).entries()[-1]
    assert (entry.action, entry.component) == ("gate_decision_refused", "var_engine")


def test_an_oversized_approver_id_is_refused_and_capped_in_the_audit(store):
    """A 900 KB approver id is refused; the audit row stores at most 128 characters of it."""
    key = _open(store, policy=GatePolicy())
    with pytest.raises(ApprovalRefused, match="1 to 128 characters"):
        submit_decision(store, flow_run_id=RUN, gate_key=key, decision="approve", approver="U" * 900_000,
                        channel=Channel.SLACK)
    assert len(AuditLog(store).entries()[-1].actor) == 128


def test_the_decision_service_imports_no_prefect():
    """Importing the decision service, the signatures and the start rule loads no Prefect module."""
    code = ("import sys, runbook.approvals, runbook.signatures, runbook.initiators\n"
            "print(','.join(m for m in sys.modules if m.split('.')[0] in ('prefect', 'slack_sdk')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
