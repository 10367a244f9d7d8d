"""A fake Slack for tests: a real local Web API server and signed interaction requests.

``FakeSlackServer`` listens on 127.0.0.1 (random port) in a thread and answers ``auth.test``,
``chat.postMessage``, ``chat.update`` and ``chat.postEphemeral`` with Slack's JSON shapes, so the
real ``slack_sdk.WebClient`` (``base_url=fake.base_url``) is exercised end to end, retries included.
``build_interaction_request`` signs click payloads as Slack does; ``AsgiClient`` posts them to the
endpoint in process, background work included.
"""

from runbook.slack.testing._asgi import AsgiClient
from runbook.slack.testing._server import FAKE_TOKEN, FakeSlackServer, RecordedCall
from runbook.slack.testing._signing import (
    PinnedClock,
    SignedRequest,
    build_interaction_request,
    gate_click_payload,
    sign_request,
)

__all__ = [
    "FAKE_TOKEN",
    "AsgiClient",
    "FakeSlackServer",
    "PinnedClock",
    "RecordedCall",
    "SignedRequest",
    "build_interaction_request",
    "gate_click_payload",
    "sign_request",
]
