"""The Slack endpoint's hygiene and its /runbook command, on a real store and the fake Slack server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from runbook.control.audit import AuditLog
from runbook.control.starts import VerifiedStarts
from runbook.control.store import Store
from runbook.settings import Settings
from runbook.slack.interactions import create_app
from runbook.slack.testing import FAKE_TOKEN, AsgiClient, FakeSlackServer, PinnedClock, sign_request

SECRET = "command-signing-secret"
NOW = 1_717_000_000


@pytest.fixture
def fake() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store.from_url(sqlite_url)
    yield store
    store.dispose()


class Starts:
    """A phase starter written for the test: remembers what it was asked to start."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []

    def __call__(self, *, phase: str, component: str, initiator: str, start_ticket: str) -> str:
        self.calls.append({"phase": phase, "component": component, "initiator": initiator,
                           "ticket": start_ticket})
        return "run-1"


def _app(fake: FakeSlackServer, store: Store, starter: Starts | None = None) -> AsgiClient:
    settings = Settings(slack_signing_secret=SECRET, slack_bot_token=FAKE_TOKEN, slack_api_url=fake.base_url)
    return AsgiClient(create_app(settings, store=store, clock=PinnedClock(NOW), starter=starter))


def _command(text: str, *, secret: str = SECRET) -> tuple[bytes, dict]:
    """A slash-command form body as Slack sends it, signed with ``secret``."""
    form = {"command": "/runbook", "text": text, "user_id": "U0ALICE", "channel_id": "C0OPS"}
    body = urlencode(form).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(NOW),
                  "X-Slack-Signature": sign_request(secret, body, NOW)}


def test_slash_command_starts_the_phase_with_the_verified_user_as_initiator(fake, store):
    """`/runbook critical var_engine` starts the phase with a ticket the run can claim as U0ALICE."""
    starter = Starts()
    body, headers = _command("critical var_engine")
    response = _app(fake, store, starter).post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 200
    assert "Starting critical of var_engine" in response.json()["text"]
    assert [(c["phase"], c["component"], c["initiator"]) for c in starter.calls] == [
        ("critical", "var_engine", "U0ALICE")]
    start = VerifiedStarts(store).claim(starter.calls[0]["ticket"], flow_run_id="run-1", phase="critical",
                                        component="var_engine")
    assert (start.principal, start.channel) == ("U0ALICE", "slack")
    assert "verified initiator" in fake.calls_for("chat.postEphemeral")[0].args["text"]


def test_slash_command_with_bad_text_gets_usage_and_starts_nothing(fake, store):
    """An unknown phase or component is answered with the usage line; nothing starts."""
    starter = Starts()
    body, headers = _command("launch everything")
    response = _app(fake, store, starter).post("/slack/commands", content=body, headers=headers)
    assert response.json()["text"].startswith("Usage: /runbook PHASE COMPONENT")
    assert starter.calls == []


def test_a_forged_command_is_refused(fake, store):
    """A command signed with the wrong secret is a 401; nothing starts."""
    starter = Starts()
    body, headers = _command("critical var_engine", secret="guessed")
    response = _app(fake, store, starter).post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 401
    assert starter.calls == []


def test_replays_are_refused_across_endpoint_processes(fake, store, sqlite_url):
    """A request delivered to one endpoint and replayed to another (sharing the store) starts once."""
    starter = Starts()
    body, headers = _command("shadow var_engine")
    other = Store.from_url(sqlite_url)
    try:
        _app(fake, other, starter).post("/slack/commands", content=body, headers=headers)
    finally:
        other.dispose()
    _app(fake, store, starter).post("/slack/commands", content=body, headers=headers)
    assert len(starter.calls) == 1
    assert [e.action for e in AuditLog(store).entries() if e.action == "slack_click_refused"] == [
        "slack_click_refused"]


def test_unauthenticated_requests_are_audited_in_aggregate(fake, store):
    """Fifty forged requests in a minute leave one audit row, not fifty; the first is reported."""
    client = _app(fake, store)
    for _ in range(50):
        body, headers = _command("critical var_engine", secret="guessed")
        assert client.post("/slack/interactions", content=body, headers=headers).status_code == 401
    rows = [e for e in AuditLog(store).entries() if e.action == "slack_request_refused"]
    assert len(rows) == 1
    assert rows[0].evidence["counts"] == {"bad signature": 1}
