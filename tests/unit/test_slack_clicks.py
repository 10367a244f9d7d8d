"""Reading a gate click out of a verified Slack payload, and the configured allow-lists."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from runbook.domain.gates import Decision
from runbook.slack.clicks import MalformedClick, parse_click
from runbook.slack.testing import gate_click_payload


def _body(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": text}).encode()


def test_click_names_user_run_gate_decision_and_action_ts() -> None:
    """An Approve click yields the Slack user, run, gate, decision and action timestamp."""
    payload = gate_click_payload(user_id="U0BOB", flow_run_id="run-1", gate_key="g.k", action_ts="171.5",
                                 channel_id="C9", message_ts="170.1")
    click = parse_click(_body(payload))
    assert (click.user_id, click.flow_run_id, click.gate_key) == ("U0BOB", "run-1", "g.k")
    assert click.decision is Decision.APPROVE
    assert (click.action_ts, click.channel_id, click.message_ts) == ("171.5", "C9", "170.1")


def test_reject_button_reads_as_reject() -> None:
    """The Reject button's action id maps to a rejection."""
    payload = gate_click_payload(user_id="U1", flow_run_id="r", gate_key="k", approve=False)
    assert parse_click(_body(payload)).decision is Decision.REJECT


@pytest.mark.parametrize(
    "body",
    [b"", b"payload=", b"nopayload=1", b"payload=%7Bnot-json", b"payload=%5B1%2C2%5D", b"\xff\xfe=1",
     b"payload=" + b"x" * 10],
)
def test_unreadable_bodies_are_malformed(body: bytes) -> None:
    """A body without a JSON object payload raises MalformedClick, never another error."""
    with pytest.raises(MalformedClick):
        parse_click(body)


def test_malformed_click_keeps_who_and_where_for_the_reply() -> None:
    """A click with a broken button value still names the user and channel, so they can be told."""
    payload = gate_click_payload(user_id="U0BOB", flow_run_id="r", gate_key="k", channel_id="C7",
                                 action_ts="9.9")
    payload["actions"][0]["value"] = "garbage"
    with pytest.raises(MalformedClick) as caught:
        parse_click(_body(payload))
    assert (caught.value.user_id, caught.value.channel_id, caught.value.action_ts) == ("U0BOB", "C7", "9.9")


def test_other_interaction_types_are_not_clicks() -> None:
    """A view submission or a foreign button is not a runbook gate click."""
    with pytest.raises(MalformedClick, match="view_submission"):
        parse_click(_body({"type": "view_submission", "user": {"id": "U1"}}))
    payload = gate_click_payload(user_id="U1", flow_run_id="r", gate_key="k")
    payload["actions"][0]["action_id"] = "somebody_elses_button"
    with pytest.raises(MalformedClick, match="not a runbook gate button"):
        parse_click(_body(payload))
