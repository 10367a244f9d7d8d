"""The console notifier (Slack not configured) and how make_notifier chooses."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GatePolicy, GateRequest
from runbook.settings import Settings
from runbook.slack.console import ConsoleNotifier
from runbook.slack.notifier import SlackNotifier, make_notifier


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def _request() -> GateRequest:
    return GateRequest(
        gate_key="shadow.var_engine.validation.run-abcdef12.a1.s1", flow_run_id="abcdef12-0000",
        component="var_engine", phase="shadow", title="Leave shadow for canary [5%]", critical=True,
        policy=GatePolicy(required_approvals=2), initiator="alice",
        evidence={"max_rel_error": 3.2e-7, "tost": {"p_value": 1e-9}}, created_at=datetime.now(UTC),
    )


def test_gate_request_prints_evidence_and_how_to_decide() -> None:
    """The console shows the gate, its numbers and where to decide; it returns no Slack message."""
    console, out = _console()
    result = ConsoleNotifier(console=console).gate_requested(_request(), run_url="http://ui/runs/1")
    text = out.getvalue()
    assert result is None
    assert "Leave shadow for canary [5%]" in text  # brackets are text, not rich markup
    assert "tost.p_value: 1e-09" in text
    assert "http://ui/runs/1" in text
    assert "2 approval(s)" in text


def test_gate_request_without_a_ui_names_the_cli_command_and_no_dead_link() -> None:
    """With no Prefect UI to link to, the console names the exact approve command instead."""
    console, out = _console()
    ConsoleNotifier(console=console).gate_requested(_request(), run_url="")
    text = out.getvalue()
    assert "runbook approve abcdef12-0000 --gate shadow.var_engine.validation.run-abcdef12.a1.s1" in text
    assert "Prefect UI (" not in text


def test_a_gate_only_a_verified_identity_decides_names_the_signed_command_not_the_form() -> None:
    """The UI's resume form takes a typed name, which a verified-only (critical) gate refuses."""
    import dataclasses

    request = dataclasses.replace(_request(), policy=GatePolicy(required_approvals=2, verified_only=True))
    console, out = _console()
    ConsoleNotifier(console=console).gate_requested(request, run_url="http://ui/runs/1")
    text = out.getvalue()
    assert ("runbook approve abcdef12-0000 --gate shadow.var_engine.validation.run-abcdef12.a1.s1 "
            "--sign-with ~/.ssh/id_ed25519") in text  # fmt: skip
    assert "Prefect UI (" not in text


def test_every_notification_prints_a_line() -> None:
    """Decisions, rollbacks, validations, nightly results and run updates all reach stdout."""
    console, out = _console()
    notifier = ConsoleNotifier(console=console)
    record = GateDecisionRecord(flow_run_id="r", gate_key="k", decision=Decision.REJECT, approver="bob",
                                channel=Channel.CLI, at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    notifier.gate_decided(_request(), [record])
    notifier.rollback_alert("hedge_calculator", reason="effectiveness dropped", evidence={"he": 0.9},
                            automatic=True)
    notifier.validation_result("var_engine", passed=False, summary={"failed_checks": 2})
    notifier.nightly_result([{"component": "var_engine", "passed": True}])
    notifier.run_update("abcdef1234", "canary at 5%")
    text = out.getvalue()
    assert "reject by bob via cli at 2024-01-02 03:04:05 UTC" in text
    assert "Automatic rollback: hedge_calculator" in text
    assert "Validation FAILED: var_engine" in text
    assert "ok   var_engine" in text
    assert "run abcdef12: canary at 5%" in text


def test_without_a_token_make_notifier_gives_the_console() -> None:
    """No bot token and no Secret block: the console notifier."""
    assert isinstance(make_notifier(Settings(slack_bot_token=None)), ConsoleNotifier)


def test_with_a_token_make_notifier_gives_slack_with_configured_channels() -> None:
    """A bot token gives a SlackNotifier using the configured API URL and channels."""
    settings = Settings(slack_bot_token="xoxb-1", slack_api_url="http://127.0.0.1:9/api/",
                        slack_default_channel="#ops", slack_channels={"var_engine": "C0VAR"})
    notifier = make_notifier(settings)
    assert isinstance(notifier, SlackNotifier)
    assert notifier.client.base_url == "http://127.0.0.1:9/api/"
    assert notifier.channel_for("var_engine") == "C0VAR"
    assert notifier.channel_for("hedge_calculator") == "#ops"


def test_retry_handlers_cover_rate_limits_and_connection_errors() -> None:
    """The client retries 429s and dropped connections (retry_handlers= replaces the defaults)."""
    notifier = make_notifier(Settings(slack_bot_token="xoxb-1"))
    assert isinstance(notifier, SlackNotifier)
    names = {type(handler).__name__ for handler in notifier.client.retry_handlers}
    assert names == {"BoundedRateLimitRetryHandler", "ConnectionErrorRetryHandler"}


def test_token_can_come_from_a_secret_block() -> None:
    """With only a Secret block name configured, the token is loaded from that block."""
    asked: list[str] = []

    def loader(name: str) -> str:
        asked.append(name)
        return "xoxb-from-block"

    notifier = make_notifier(Settings(slack_bot_token=None, slack_bot_token_block="slack-bot"),
                             secret_loader=loader)
    assert asked == ["slack-bot"]
    assert isinstance(notifier, SlackNotifier)
    assert notifier.client.token == "xoxb-from-block"


def test_unreadable_secret_block_falls_back_to_the_console() -> None:
    """A Secret block that cannot be read leaves Slack off rather than failing."""
    notifier = make_notifier(Settings(slack_bot_token=None, slack_bot_token_block="missing"),
                             secret_loader=lambda name: None)
    assert isinstance(notifier, ConsoleNotifier)
