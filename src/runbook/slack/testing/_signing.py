"""Signed interaction requests as Slack sends them, and a clock to pin for signature checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from runbook.slack.blocks import ACTION_APPROVE, ACTION_REJECT, button_value
from runbook.slack.testing._server import TEAM_ID

__all__ = ["PinnedClock", "SignedRequest", "build_interaction_request", "gate_click_payload", "sign_request"]


class PinnedClock:
    """A clock for signature checks that reads ``at`` (Unix seconds) until moved with ``advance``."""

    def __init__(self, at: float) -> None:
        self.at = float(at)

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An interaction request as Slack sends it: form body and signature headers."""

    body: bytes
    headers: dict[str, str]


def sign_request(secret: str, body: bytes | str, timestamp: int | str) -> str:
    """Slack's ``v0=`` signature: HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed by the signing secret."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def build_interaction_request(
    secret: str, payload: Mapping[str, Any] | str, *, timestamp: int | None = None
) -> SignedRequest:
    """A correctly signed ``application/x-www-form-urlencoded`` body carrying ``payload=<json>``.

    ``payload`` may be a mapping (JSON-encoded here) or a raw string (for malformed-payload tests).
    ``timestamp`` defaults to now (Unix seconds).
    """
    stamp = int(time.time()) if timestamp is None else timestamp
    text = payload if isinstance(payload, str) else json.dumps(payload)
    body = urlencode({"payload": text}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign_request(secret, body, stamp),
    }
    return SignedRequest(body=body, headers=headers)


def gate_click_payload(
    *,
    user_id: str,
    flow_run_id: str,
    gate_key: str,
    approve: bool = True,
    channel_id: str = "C0RUNBOOK",
    message_ts: str = "1700000001.000100",
    action_ts: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload shaped like Slack's for a click on a gate's Approve or Reject button."""
    action_id = ACTION_APPROVE if approve else ACTION_REJECT
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "runbook-test"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0RUNBOOK",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id},
        "channel": {"id": channel_id, "name": "runbook"},
        "message": {"type": "message", "ts": message_ts, "text": "gate"},
        "response_url": "https://hooks.slack.invalid/actions/T0RUNBOOK/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "runbook_gate",
                "value": button_value(flow_run_id=flow_run_id, gate_key=gate_key),
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
