"""Slack interaction requests (pure): signature checks and gate-button clicks.

Verification follows Slack's scheme on the raw body: ``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``
with the request timestamp at most 5 minutes from now. ``slack_sdk``'s ``SignatureVerifier`` does
the cryptography; this module names why a request is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from runbook.domain.gates import MAX_ACTOR_CHARS, Decision
from runbook.slack.blocks import GATE_ACTIONS, parse_button_value

__all__ = [
    "SIGNATURE_WINDOW_S",
    "Click",
    "Clock",
    "MalformedClick",
    "parse_click",
    "signature_problem",
]

SIGNATURE_WINDOW_S = 300  # Slack's documented replay window, seconds


class Clock(Protocol):
    """Anything with ``now() -> float`` (Unix seconds); ``slack_sdk.signature.Clock`` fits."""

    def now(self) -> float: ...


def signature_problem(
    secret: str, *, body: bytes, headers: Mapping[str, str], clock: Clock
) -> str | None:
    """Why this request is not a genuine, fresh Slack request, or None when it verifies.

    ``headers`` may use any case. Never raises: odd bytes or headers are reasons too.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp")
    signature = lowered.get("x-slack-signature")
    if not timestamp or not signature:
        return "missing signature headers"
    try:
        stamp = int(timestamp)
    except ValueError:
        return "malformed timestamp"
    if abs(clock.now() - stamp) > SIGNATURE_WINDOW_S:
        return "stale timestamp (outside the 5-minute window)"
    try:
        valid = SignatureVerifier(secret, clock=clock).is_valid(body, timestamp, signature)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - odd bytes (non-UTF-8 body, non-ASCII signature) cannot verify
        return "bad signature"
    return None if valid else "bad signature"


@dataclass(frozen=True, slots=True)
class Click:
    """A verified click on a gate's Approve or Reject button."""

    user_id: str
    flow_run_id: str
    gate_key: str
    decision: Decision
    action_ts: str
    channel_id: str | None
    message_ts: str | None


class MalformedClick(ValueError):
    """A verified payload that is not a readable gate click; carries what could be read for a reply."""

    def __init__(self, reason: str, *, user_id: str | None = None, channel_id: str | None = None,
                 action_ts: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id
        self.channel_id = channel_id
        self.action_ts = action_ts


def parse_click(body: bytes) -> Click:
    """The gate click carried by a form body ``payload=<json>``; ``MalformedClick`` otherwise."""
    payload = _payload(body)
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    user_id = user_id if isinstance(user_id, str) and 0 < len(user_id) <= MAX_ACTOR_CHARS else None
    channel_id, message_ts = _where(payload)
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    action_ts = action.get("action_ts") if isinstance(action.get("action_ts"), str) else None

    def refuse(reason: str) -> MalformedClick:
        return MalformedClick(reason, user_id=user_id, channel_id=channel_id, action_ts=action_ts)

    if payload.get("type") != "block_actions":
        raise refuse(f"interaction type {payload.get('type')!r} is not a button click (block_actions)")
    if user_id is None:
        raise refuse(f"the payload names no user (or an id longer than {MAX_ACTOR_CHARS} characters)")
    decision = GATE_ACTIONS.get(action.get("action_id"))  # type: ignore[arg-type]
    if decision is None:
        raise refuse(f"action {action.get('action_id')!r} is not a runbook gate button")
    try:
        flow_run_id, gate_key = parse_button_value(action.get("value"))
    except ValueError as exc:
        raise refuse(str(exc)) from None
    return Click(user_id=user_id, flow_run_id=flow_run_id, gate_key=gate_key, decision=decision,
                 action_ts=action_ts or "", channel_id=channel_id, message_ts=message_ts)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise MalformedClick("the body is not a URL-encoded form") from None
    values = form.get("payload")
    if not values:
        raise MalformedClick("the form has no payload field")
    try:
        payload = json.loads(values[0])
    except json.JSONDecodeError:
        raise MalformedClick("the payload is not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedClick("the payload is not a JSON object")
    return payload


def _where(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(channel_id, message_ts)`` of the clicked message, from ``container`` or ``channel``."""
    container: dict[str, Any] = payload["container"] if isinstance(payload.get("container"), dict) else {}
    channel: dict[str, Any] = payload["channel"] if isinstance(payload.get("channel"), dict) else {}
    channel_id = container.get("channel_id") or channel.get("id")
    message_ts = container.get("message_ts")
    return (channel_id if isinstance(channel_id, str) else None,
            message_ts if isinstance(message_ts, str) else None)
