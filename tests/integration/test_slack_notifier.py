"""The Slack notifier against the fake Slack Web API, through the real slack_sdk WebClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runbook.control.gates import GateStore
from runbook.control.store import Store
from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GatePolicy, GateRequest
from runbook.settings import Settings
from runbook.slack.blocks import ACTION_APPROVE
from runbook.slack.client import check_auth, make_web_client
from runbook.slack.notifier import SlackNotifier, make_notifier
from runbook.slack.testing import FAKE_TOKEN, FakeSlackServer

RUN = "9a8b7c6d-0000-4000-8000-000000000001"


@pytest.fixture
def fake() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


def _notifier(fake: FakeSlackServer, **settings: object) -> SlackNotifier:
    notifier = make_notifier(Settings(slack_bot_token=FAKE_TOKEN, slack_api_url=fake.base_url,
                                      slack_default_channel="C0DEFAULT", **settings))  # type: ignore[arg-type]
    assert isinstance(notifier, SlackNotifier)
    return notifier


def _request(run: str = RUN, component: str = "var_engine", step: str = "step-5") -> GateRequest:
    return GateRequest(
        gate_key=f"canary.{component}.{step}.run-{run[:8]}.a1.s1", flow_run_id=run, component=component,
        phase="canary", title=f"{component} to 25%", critical=False, policy=GatePolicy(), initiator=None,
        evidence={"error_rate": 0.0}, created_at=datetime.now(UTC),
    )


def test_rate_limited_post_is_retried_and_succeeds(fake: FakeSlackServer) -> None:
    """A 429 with Retry-After is retried by the real WebClient: two calls seen, the post lands."""
    notifier = _notifier(fake)
    fake.rate_limit(1, retry_after_s=0)
    posted = notifier.gate_requested(_request(), run_url="http://ui/runs/1")
    calls = fake.calls_for("chat.postMessage")
    assert len(calls) == 2
    assert posted is not None
    assert fake.message(*posted) is not None


def test_rate_limit_beyond_the_retries_is_logged_not_raised(fake: FakeSlackServer) -> None:
    """More 429s than retries: the notifier gives up quietly (None), after 1 + 2 attempts."""
    notifier = _notifier(fake)
    fake.rate_limit(5, retry_after_s=0)
    assert notifier.gate_requested(_request(), run_url="http://ui") is None
    assert len(fake.calls_for("chat.postMessage")) == 3


def test_rate_limit_longer_than_the_bound_is_not_waited_for(fake: FakeSlackServer) -> None:
    """A Retry-After beyond the client's bound gives up at once instead of holding the flow."""
    notifier = _notifier(fake)
    fake.rate_limit(1, retry_after_s=3600)
    assert notifier.gate_requested(_request(), run_url="http://ui") is None
    assert len(fake.calls_for("chat.postMessage")) == 1


@pytest.mark.parametrize("mode", ["refuse", "error"])
def test_slack_down_never_raises_from_the_notifier(fake: FakeSlackServer, mode: str) -> None:
    """Connection refused or HTTP 500: every notifier method returns normally."""
    # Slack tried on every call (no cooldown, no connection retry) to show that none of them raises.
    client = make_web_client(token=FAKE_TOKEN, base_url=fake.base_url, connection_retries=0)
    notifier = SlackNotifier(client, default_channel="C0DEFAULT", unreachable_cooldown_s=0.0)
    fake.go_down(mode)
    assert notifier.gate_requested(_request(), run_url="http://ui") is None
    notifier.gate_decided(_request(), [])
    notifier.rollback_alert("var_engine", reason="latency", evidence={"p99_ratio": 1.4}, automatic=True)
    notifier.validation_result("var_engine", passed=True, summary={})
    notifier.nightly_result([])
    notifier.run_update(RUN, "still here")
    assert notifier.ephemeral(channel="C1", user="U1", text="hi") is False
    fake.come_up()
    assert notifier.gate_requested(_request(), run_url="http://ui") is not None


def test_unreachable_slack_is_skipped_for_the_cooldown(fake: FakeSlackServer) -> None:
    """After a refused connection, messages skip Slack for the cooldown instead of waiting again."""
    notifier = _notifier(fake)
    fake.go_down("refuse")
    assert notifier.gate_requested(_request(), run_url="http://ui") is None
    fake.come_up()
    assert notifier.gate_requested(_request(), run_url="http://ui") is None
    assert fake.calls == []
    notifier.unreachable_cooldown_s = 0.0
    notifier._unreachable_until = 0.0
    assert notifier.gate_requested(_request(), run_url="http://ui") is not None


def test_run_updates_thread_under_the_runs_first_message(fake: FakeSlackServer) -> None:
    """Progress lines of a run reply in the thread of its first message; another run gets its own."""
    notifier = _notifier(fake)
    channel, root = notifier.gate_requested(_request(), run_url="http://ui") or ("", "")
    notifier.run_update(RUN, "canary at 25%: 0 errors in 12,000 calls")
    other_run = "00000000-1111-4000-8000-000000000002"
    notifier.run_update(other_run, "shadow started")
    posts = fake.calls_for("chat.postMessage")
    assert posts[1].args["thread_ts"] == root
    assert posts[1].args["channel"] == channel
    assert "thread_ts" not in posts[2].args
    notifier.run_update(other_run, "shadow finished")
    assert fake.calls_for("chat.postMessage")[3].args["thread_ts"] != root


def test_channel_per_component_else_default(fake: FakeSlackServer) -> None:
    """A component with its own channel posts there; others post to the default channel."""
    notifier = _notifier(fake, slack_channels={"var_engine": "C0VAR"})
    notifier.gate_requested(_request(component="var_engine"), run_url="http://ui")
    notifier.rollback_alert("hedge_calculator", reason="x", evidence={}, automatic=False)
    assert [c.args["channel"] for c in fake.calls_for("chat.postMessage")] == ["C0VAR", "C0DEFAULT"]


def test_decided_gate_is_updated_in_place_without_buttons(fake: FakeSlackServer) -> None:
    """gate_decided rewrites the gate message: same channel and ts, no buttons, who decided."""
    notifier = _notifier(fake)
    request = _request()
    channel, ts = notifier.gate_requested(request, run_url="http://ui") or ("", "")
    assert ACTION_APPROVE in str(fake.message(channel, ts))
    record = GateDecisionRecord(flow_run_id=RUN, gate_key=request.gate_key, decision=Decision.APPROVE,
                                approver="U0BOB", channel=Channel.SLACK, at=datetime.now(UTC))
    notifier.gate_decided(request, [record])
    update = fake.calls_for("chat.update")[0]
    assert (update.args["channel"], update.args["ts"]) == (channel, ts)
    message = fake.message(channel, ts)
    assert message is not None
    assert ACTION_APPROVE not in str(message["blocks"])
    assert "<@U0BOB>" in str(message["blocks"])


def test_gate_message_is_remembered_in_the_gate_store(fake: FakeSlackServer, sqlite_url: str) -> None:
    """With a GateStore, the posted message's channel and ts land in gate_requests."""
    store = Store.from_url(sqlite_url)
    try:
        gates = GateStore(store)
        request = _request()
        gates.open_request(request)
        notifier = make_notifier(
            Settings(slack_bot_token=FAKE_TOKEN, slack_api_url=fake.base_url, slack_default_channel="C0D"),
            gate_store=gates,
        )
        posted = notifier.gate_requested(request, run_url="http://ui")
        stored = gates.request(request.gate_key)
        assert stored is not None
        assert (stored.slack_channel, stored.slack_ts) == posted
    finally:
        store.dispose()


def test_auth_check_reports_identity_or_the_error(fake: FakeSlackServer) -> None:
    """auth.test with the right token names the team; a wrong token reports invalid_auth."""
    good = check_auth(make_web_client(token=FAKE_TOKEN, base_url=fake.base_url))
    bad = check_auth(make_web_client(token="xoxb-wrong", base_url=fake.base_url))
    assert good.ok
    assert good.team == "Runbook Test"
    assert not bad.ok
    assert bad.error == "invalid_auth"


def test_cli_check_exits_0_when_slack_answers(
    fake: FakeSlackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`runbook slack check` calls auth.test and exits 0; a dead Slack exits 1 with the error."""
    from runbook.cli import main

    monkeypatch.setenv("RUNBOOK_SLACK_BOT_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("RUNBOOK_SLACK_API_URL", fake.base_url)
    assert main(["slack", "check"]) == 0
    assert "Slack OK: team Runbook Test" in capsys.readouterr().out
    fake.go_down("error")
    assert main(["slack", "check"]) == 1
    assert "fatal_error" in capsys.readouterr().out
