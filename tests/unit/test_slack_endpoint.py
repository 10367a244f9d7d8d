"""The interaction endpoint's contract with fakes for its ports: verify, acknowledge, audit, reply."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GatePolicy, GateRequest
from runbook.errors import ApprovalRefused, BadParameter
from runbook.settings import Settings
from runbook.slack.interactions import MAX_BODY_BYTES, create_app
from runbook.slack.testing import AsgiClient, PinnedClock, build_interaction_request, gate_click_payload

SECRET = "unit-test-signing-secret"
NOW = 1_700_000_000
RUN = "11111111-2222-3333-4444-555555555555"
KEY = "canary.market_data_provider.step-10.run-11111111.a1.s1"


@dataclass
class _Outcome:
    accepted: bool
    already_decided: bool
    resumed: bool
    message: str
    record: GateDecisionRecord | None


@dataclass
class Ports:
    """Recording stand-ins for the store-backed ports."""

    audit: list[dict[str, Any]] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[dict[str, str]] = field(default_factory=list)
    updated: list[tuple[GateRequest, list[GateDecisionRecord]]] = field(default_factory=list)
    gates: dict[str, GateRequest] = field(default_factory=dict)
    refuse_with: str | None = None
    fail_with: Exception | None = None

    def append(self, **row: Any) -> None:
        self.audit.append(row)

    def request(self, gate_key: str) -> GateRequest | None:
        return self.gates.get(gate_key)

    def ephemeral(self, *, channel: str, user: str, text: str) -> bool:
        self.ephemerals.append({"channel": channel, "user": user, "text": text})
        return True

    def gate_decided(self, request: GateRequest, records: list[GateDecisionRecord]) -> None:
        self.updated.append((request, list(records)))

    def submit(self, store: object, **kwargs: Any) -> _Outcome:
        self.submitted.append(kwargs)
        if self.fail_with is not None:
            raise self.fail_with
        if self.refuse_with is not None:
            raise ApprovalRefused(self.refuse_with)
        record = GateDecisionRecord(
            flow_run_id=kwargs["flow_run_id"], gate_key=kwargs["gate_key"], decision=kwargs["decision"],
            approver=kwargs["approver"], channel=kwargs["channel"], at=datetime(2024, 1, 2, tzinfo=UTC),
        )
        first = len(self.submitted) == 1
        return _Outcome(first, not first, first, "ok", record)


@pytest.fixture
def ports() -> Ports:
    ports = Ports()
    ports.gates[KEY] = GateRequest(
        gate_key=KEY, flow_run_id=RUN, component="market_data_provider", phase="canary", title="Step to 10%",
        critical=False, policy=GatePolicy(), initiator="alice", evidence={}, created_at=datetime.now(UTC),
    )
    return ports


@pytest.fixture
def clock() -> PinnedClock:
    return PinnedClock(NOW)


def _client(ports: Ports, clock: PinnedClock, **settings: Any) -> AsgiClient:
    app = create_app(
        Settings(slack_signing_secret=SECRET, **settings), store=object(), clock=clock, replier=ports,
        submit=ports.submit, audit=ports, gates=ports,
    )
    return AsgiClient(app)


def _post(client: AsgiClient, payload: object, *, timestamp: int = NOW, secret: str = SECRET,
          headers: dict[str, str] | None = None) -> Any:
    signed = build_interaction_request(secret, payload, timestamp=timestamp)  # type: ignore[arg-type]
    return client.post("/slack/interactions", content=signed.body,
                       headers={**signed.headers, **(headers or {})})


def _click(user: str = "U0BOB", action_ts: str = "1700000000.123456") -> dict[str, Any]:
    return gate_click_payload(user_id=user, flow_run_id=RUN, gate_key=KEY, action_ts=action_ts,
                              channel_id="C0GATES")


def test_healthz_answers_ok(ports: Ports, clock: PinnedClock) -> None:
    """GET /healthz is 200 with ok true."""
    response = _client(ports, clock).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_allowed_click_is_submitted_through_the_one_code_path(ports: Ports, clock: PinnedClock) -> None:
    """A verified Approve goes to submit_decision as a Slack decision by the clicking user id."""
    response = _post(_client(ports, clock), _click())
    assert response.status_code == 200
    assert ports.submitted == [{"flow_run_id": RUN, "gate_key": KEY, "decision": Decision.APPROVE,
                                "approver": "U0BOB", "channel": Channel.SLACK}]
    assert [row["action"] for row in ports.audit] == ["slack_click_accepted"]
    assert ports.audit[0]["evidence"]["action_ts"] == "1700000000.123456"
    assert ports.audit[0]["actor"] == "U0BOB"
    assert ports.updated[0][0].slack_channel == "C0GATES"
    assert "approved" in ports.ephemerals[0]["text"]


@pytest.mark.parametrize(
    ("case", "reason"),
    [("bad_signature", "bad signature"), ("missing_headers", "missing signature headers"),
     ("stale", "stale timestamp")],
)
def test_unverified_requests_get_401_without_detail_and_an_audit_row(
    ports: Ports, clock: PinnedClock, case: str, reason: str
) -> None:
    """Bad signature, missing headers and a stale timestamp: 401, empty body, audited, nothing submitted."""
    client = _client(ports, clock)
    signed = build_interaction_request(SECRET, _click(), timestamp=NOW - 301 if case == "stale" else NOW)
    headers = dict(signed.headers)
    if case == "bad_signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    if case == "missing_headers":
        headers.pop("X-Slack-Signature")
    response = client.post("/slack/interactions", content=signed.body, headers=headers)
    assert response.status_code == 401
    assert response.content == b""
    assert ports.submitted == []
    assert ports.ephemerals == []
    assert len(ports.audit) == 1
    assert ports.audit[0]["actor"] == "unverified"
    assert reason in ports.audit[0]["reason"]


def test_replay_outside_the_window_is_refused(ports: Ports, clock: PinnedClock) -> None:
    """A request accepted once is refused with 401 when resent after the 5-minute window."""
    client = _client(ports, clock)
    signed = build_interaction_request(SECRET, _click(), timestamp=NOW)
    assert client.post("/slack/interactions", content=signed.body, headers=signed.headers).status_code == 200
    clock.advance(301)
    replay = client.post("/slack/interactions", content=signed.body, headers=signed.headers)
    assert replay.status_code == 401
    assert len(ports.submitted) == 1
    assert ports.audit[-1]["action"] == "slack_request_refused"


def test_replay_inside_the_window_is_ignored_and_audited(ports: Ports, clock: PinnedClock) -> None:
    """The same signed request twice within the window is handled once; the copy is audited."""
    client = _client(ports, clock)
    signed = build_interaction_request(SECRET, _click(), timestamp=NOW)
    for _ in range(2):
        assert client.post_signed(signed).status_code == 200
    assert len(ports.submitted) == 1
    assert "replayed" in ports.audit[-1]["reason"]


def test_policy_refusal_is_replied_and_audited(ports: Ports, clock: PinnedClock) -> None:
    """An ApprovalRefused from submit_decision becomes a 200, an ephemeral reason and an audit row."""
    ports.refuse_with = "gate is stale: run is paused at another gate"
    response = _post(_client(ports, clock), _click())
    assert response.status_code == 200
    assert "stale" in ports.ephemerals[0]["text"]
    assert ports.audit[0]["action"] == "slack_click_refused"
    assert ports.updated == []


def test_second_click_says_already_decided(ports: Ports, clock: PinnedClock) -> None:
    """The second click is told the gate was already decided; only the first updates the message."""
    client = _client(ports, clock)
    _post(client, _click(action_ts="1.1"))
    _post(client, _click(action_ts="1.2"))
    assert [row["action"] for row in ports.audit] == ["slack_click_accepted", "slack_click_already_decided"]
    assert len(ports.updated) == 1
    assert "Already decided" in ports.ephemerals[1]["text"]


def test_malformed_verified_payload_gets_200_reply_and_audit(ports: Ports, clock: PinnedClock) -> None:
    """A verified click with an unreadable button value: 200, ephemeral to the clicker, audited."""
    payload = _click()
    payload["actions"][0]["value"] = "{broken"
    response = _post(_client(ports, clock), payload)
    assert response.status_code == 200
    assert ports.submitted == []
    assert ports.ephemerals[0]["user"] == "U0BOB"
    assert "malformed payload" in ports.audit[0]["reason"]
    assert ports.audit[0]["evidence"]["action_ts"] == "1700000000.123456"


def test_unexpected_failure_still_answers_200_and_tells_the_user(ports: Ports, clock: PinnedClock) -> None:
    """An internal error after verification is audited and replied to, never a 500."""
    ports.fail_with = RuntimeError("database is locked")
    response = _post(_client(ports, clock), _click())
    assert response.status_code == 200
    assert ports.audit[0]["action"] == "slack_click_failed"
    assert "could not be recorded" in ports.ephemerals[0]["text"]


def test_audit_failure_does_not_break_the_answer(ports: Ports, clock: PinnedClock) -> None:
    """When the audit log cannot be written, requests are still answered (401 stays 401, 200 stays 200)."""

    def broken(**row: Any) -> None:
        raise OSError("disk full")

    ports.append = broken  # type: ignore[method-assign]
    client = _client(ports, clock)
    assert _post(client, _click()).status_code == 200
    assert _post(client, _click(), secret="wrong").status_code == 401


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"", {}),
        (b"\x00\xff" * 50, {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=zz"}),
        (b"payload=%7B%7D", {"X-Slack-Request-Timestamp": "-99999999999999999999", "X-Slack-Signature": "x"}),
        (b"payload=%7B%7D", {"X-Slack-Request-Timestamp": "1e400", "X-Slack-Signature": ""}),
        (b"payload=%7B%7D",
         {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=\u00e9".encode("latin-1")}),
    ],
)
def test_garbage_requests_never_answer_500(
    ports: Ports, clock: PinnedClock, body: bytes, headers: dict
) -> None:
    """Unsigned or odd requests are refused with 401, never an internal error."""
    response = _client(ports, clock).post("/slack/interactions", content=body, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "payload",
    ["", "null", "[]", "{}", '{"type": "block_actions"}', '{"type": "block_actions", "user": "U1"}',
     '{"type": "block_actions", "user": {"id": "U1"}, "actions": "x"}',
     '{"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "runbook_gate_approve"}]}',
     json.dumps({"type": "block_actions", "user": {"id": ["U1"]}, "container": [], "channel": 5})],
)
def test_signed_garbage_payloads_answer_200_and_are_audited(
    ports: Ports, clock: PinnedClock, payload: str
) -> None:
    """Verified but unreadable payloads: 200, one audit row each, nothing submitted."""
    response = _post(_client(ports, clock), payload)
    assert response.status_code == 200
    assert ports.submitted == []
    assert len(ports.audit) == 1
    assert ports.audit[0]["action"] == "slack_click_refused"


def test_oversized_body_is_refused_before_verification(ports: Ports, clock: PinnedClock) -> None:
    """A body beyond the size bound gets 413 and is not processed."""
    response = _client(ports, clock).post("/slack/interactions", content=b"a" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert ports.submitted == []


def test_wrong_method_is_405_not_500(ports: Ports, clock: PinnedClock) -> None:
    """GET on the interactions route is a plain 405."""
    assert _client(ports, clock).get("/slack/interactions").status_code == 405


def test_app_refuses_to_start_without_a_signing_secret() -> None:
    """Without RUNBOOK_SLACK_SIGNING_SECRET the app is not built (it would accept forgeries)."""
    with pytest.raises(BadParameter, match="SIGNING_SECRET"):
        create_app(Settings(slack_signing_secret=None))
