"""The interaction endpoint on a real store and the fake Slack: refusals before any decision is made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.control.store import Store
from runbook.domain.gates import GatePolicy, GateRequest
from runbook.settings import Settings
from runbook.slack.interactions import create_app
from runbook.slack.testing import (
    FAKE_TOKEN,
    AsgiClient,
    FakeSlackServer,
    PinnedClock,
    build_interaction_request,
    gate_click_payload,
)

SECRET = "integration-signing-secret"
NOW = 1_717_000_000
RUN = "7e57ab1e-0000-4000-8000-00000000beef"
KEY = "canary.market_data_provider.step-10.run-7e57ab1e.a1.s1"


@pytest.fixture
def fake() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.from_url(sqlite_url)
    GateStore(store).open_request(GateRequest(
        gate_key=KEY, flow_run_id=RUN, component="market_data_provider", phase="canary", title="Step to 10%",
        critical=False, policy=GatePolicy(allowed_approvers=frozenset({"U0ALICE", "U0BOB"})),
        initiator="U0ALICE", evidence={}, created_at=datetime.now(UTC),
    ))
    yield store
    store.dispose()


@pytest.fixture
def clock() -> PinnedClock:
    return PinnedClock(NOW)


@pytest.fixture
def client(fake: FakeSlackServer, store: Store, clock: PinnedClock) -> AsgiClient:
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token=FAKE_TOKEN, slack_api_url=fake.base_url,
                        approvers={"market_data_provider": ["U0ALICE", "U0BOB"]})
    return AsgiClient(create_app(settings, store=store, clock=clock))


def _click(user: str = "U0BOB", gate_key: str = KEY) -> dict:
    return gate_click_payload(user_id=user, flow_run_id=RUN, gate_key=gate_key, channel_id="C0GATES",
                              action_ts="1717000000.000001")


def _slack_rows(store: Store) -> list:
    return [entry for entry in AuditLog(store).entries() if entry.action.startswith("slack_")]


@pytest.mark.parametrize("case", ["bad signature", "missing signature headers", "stale timestamp"])
def test_unverified_request_is_401_audited_and_decides_nothing(
    client: AsgiClient, store: Store, fake: FakeSlackServer, case: str
) -> None:
    """Bad signature, missing headers, stale timestamp: 401 with no body, one audit row, no decision."""
    stamp = NOW - 600 if case == "stale timestamp" else NOW
    signed = build_interaction_request(SECRET, _click(), timestamp=stamp)
    headers = dict(signed.headers)
    if case == "bad signature":
        forged = build_interaction_request("not-the-secret", _click(), timestamp=NOW)
        headers["X-Slack-Signature"] = forged.headers["X-Slack-Signature"]
    if case == "missing signature headers":
        del headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
    response = client.post("/slack/interactions", content=signed.body, headers=headers)
    assert response.status_code == 401
    assert response.content == b""
    rows = _slack_rows(store)
    assert [(r.action, r.actor) for r in rows] == [("slack_request_refused", "unverified")]
    assert case in rows[0].reason
    assert GateStore(store).decision(KEY) is None
    assert fake.calls == []  # nobody is told anything about a forged click


def test_replay_outside_the_window_is_401_and_audited(
    client: AsgiClient, store: Store, clock: PinnedClock
) -> None:
    """A captured signed request resent six minutes later is refused and audited."""
    signed = build_interaction_request(SECRET, _click(user="U0MALLORY"), timestamp=NOW)
    client.post_signed(signed)  # the original (refused by the allow-list; irrelevant here)
    clock.advance(360)
    assert client.post_signed(signed).status_code == 401
    assert "stale timestamp" in _slack_rows(store)[-1].reason


def test_malformed_verified_payload_is_replied_and_audited(
    client: AsgiClient, store: Store, fake: FakeSlackServer
) -> None:
    """A verified click whose button value is unreadable: 200, ephemeral to the clicker, audit row."""
    payload = _click()
    payload["actions"][0]["value"] = json.dumps({"gate_key": KEY})
    response = client.post_signed(build_interaction_request(SECRET, payload, timestamp=NOW))
    assert response.status_code == 200
    ephemeral = fake.calls_for("chat.postEphemeral")
    assert [(c.args["user"], c.args["channel"]) for c in ephemeral] == [("U0BOB", "C0GATES")]
    rows = _slack_rows(store)
    assert [(r.action, r.actor) for r in rows] == [("slack_click_refused", "U0BOB")]
    assert rows[0].evidence["action_ts"] == "1717000000.000001"
    assert GateStore(store).decision(KEY) is None


def test_unreadable_payload_is_audited_without_a_reply(
    client: AsgiClient, store: Store, fake: FakeSlackServer
) -> None:
    """A verified body that is not even JSON: 200, audited, nobody to reply to."""
    response = client.post_signed(build_interaction_request(SECRET, "{not json", timestamp=NOW))
    assert response.status_code == 200
    assert [r.action for r in _slack_rows(store)] == ["slack_click_refused"]
    assert fake.calls_for("chat.postEphemeral") == []


def test_configured_allow_list_refuses_with_an_ephemeral_reason(
    client: AsgiClient, store: Store, fake: FakeSlackServer
) -> None:
    """A user outside the gate's allow-list is told why; the gate stays undecided; the audit says who."""
    response = client.post_signed(build_interaction_request(SECRET, _click(user="U0MALLORY"), timestamp=NOW))
    assert response.status_code == 200
    text = fake.calls_for("chat.postEphemeral")[0].args["text"]
    assert "allow-list" in text
    rows = _slack_rows(store)
    assert (rows[0].action, rows[0].actor, rows[0].component) == (
        "slack_click_refused", "U0MALLORY", "market_data_provider")
    assert GateStore(store).decision(KEY) is None


def test_unknown_gate_is_refused(client: AsgiClient, store: Store, fake: FakeSlackServer) -> None:
    """A button naming a gate the store does not know is refused and audited."""
    payload = _click(gate_key="no.such.gate.run-x.a1.s1")
    client.post_signed(build_interaction_request(SECRET, payload, timestamp=NOW))
    assert "no gate" in fake.calls_for("chat.postEphemeral")[0].args["text"]
    assert _slack_rows(store)[0].action == "slack_click_refused"


def test_audit_chain_still_verifies_after_refusals(client: AsgiClient, store: Store) -> None:
    """Refusal rows join the audit hash chain like any other row."""
    client.post("/slack/interactions", content=b"payload=x", headers={})
    client.post_signed(build_interaction_request(SECRET, "[]", timestamp=NOW))
    assert AuditLog(store).verify() == 2


@pytest.mark.parametrize(("length", "status"), [(129, 200), (300_000, 200), (900_000, 413)])
def test_a_signed_click_with_an_overlong_user_id_stores_nothing_long(
    client: AsgiClient, store: Store, length: int, status: int
) -> None:
    """A verified click naming a user id over 128 characters decides nothing, and what it leaves in
    the audit log (the refusal) carries at most 128 characters of it; a body over 1 MiB (a 900 KB
    id) is refused before it is read."""
    response = client.post_signed(build_interaction_request(SECRET, _click(user="U" * length), timestamp=NOW))
    assert response.status_code == status
    assert GateStore(store).decision(KEY) is None
    rows = _slack_rows(store)
    assert bool(rows) is (status == 200)
    assert all(len(row.actor) <= 128 for row in rows)
    assert all(len(json.dumps(row.evidence)) < 4_000 for row in rows)
