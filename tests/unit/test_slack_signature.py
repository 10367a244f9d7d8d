"""Slack request signing: Slack's documented example, the 5-minute window and every refusal reason."""

from __future__ import annotations

import pytest

from runbook.slack.clicks import signature_problem
from runbook.slack.testing import PinnedClock, build_interaction_request, sign_request

# Slack's documented example (reference/oracles.md).
ORACLE_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ORACLE_TIMESTAMP = 1531420618
ORACLE_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
ORACLE_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
ORACLE_HEADERS = {"X-Slack-Request-Timestamp": str(ORACLE_TIMESTAMP), "X-Slack-Signature": ORACLE_SIGNATURE}


def _problem(*, body: bytes = ORACLE_BODY, headers: dict[str, str] = ORACLE_HEADERS,
             secret: str = ORACLE_SECRET) -> str | None:
    return signature_problem(secret, body=body, headers=headers, clock=PinnedClock(ORACLE_TIMESTAMP))


class _RealClock:
    def now(self) -> float:
        import time

        return time.time()


def test_oracle_signature_verifies_with_the_clock_pinned() -> None:
    """Slack's published example verifies when the clock reads its timestamp."""
    clock = PinnedClock(ORACLE_TIMESTAMP)
    assert signature_problem(ORACLE_SECRET, body=ORACLE_BODY, headers=ORACLE_HEADERS, clock=clock) is None


def test_oracle_signature_is_refused_with_the_real_clock() -> None:
    """The same example, years old, is outside the 5-minute window of a real clock."""
    problem = signature_problem(ORACLE_SECRET, body=ORACLE_BODY, headers=ORACLE_HEADERS, clock=_RealClock())
    assert problem is not None
    assert "stale" in problem


def test_sign_request_reproduces_the_oracle_signature() -> None:
    """The test helper signs exactly as Slack does."""
    assert sign_request(ORACLE_SECRET, ORACLE_BODY, ORACLE_TIMESTAMP) == ORACLE_SIGNATURE


@pytest.mark.parametrize(("offset_s", "fresh"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_window_is_five_minutes_either_side(offset_s: int, fresh: bool) -> None:
    """A request is fresh up to 300 s before or after now, and stale beyond."""
    clock = PinnedClock(ORACLE_TIMESTAMP + offset_s)
    problem = signature_problem(ORACLE_SECRET, body=ORACLE_BODY, headers=ORACLE_HEADERS, clock=clock)
    assert (problem is None) is fresh


def test_one_changed_body_byte_is_a_bad_signature() -> None:
    """The signature covers the raw body: flipping one character fails it."""
    body = ORACLE_BODY.replace(b"roadrunner", b"roadrunnex")
    problem = _problem(body=body)
    assert problem == "bad signature"


def test_wrong_secret_is_a_bad_signature() -> None:
    """A request signed with another secret does not verify."""
    problem = _problem(secret="another-secret")
    assert problem == "bad signature"


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_missing_header_is_named(missing: str) -> None:
    """Without either signature header the request is refused as unsigned."""
    headers = {k: v for k, v in ORACLE_HEADERS.items() if k != missing}
    problem = _problem(headers=headers)
    assert problem == "missing signature headers"


def test_header_names_are_case_insensitive() -> None:
    """HTTP header names in any case verify (ASGI servers lower-case them)."""
    headers = {k.lower(): v for k, v in ORACLE_HEADERS.items()}
    assert _problem(headers=headers) is None


@pytest.mark.parametrize("stamp", ["yesterday", "1.5e9", ""])
def test_malformed_timestamp_is_refused_not_raised(stamp: str) -> None:
    """A timestamp that is not an integer is a refusal reason, never an exception."""
    headers = {**ORACLE_HEADERS, "X-Slack-Request-Timestamp": stamp}
    problem = _problem(headers=headers)
    assert problem is not None


def test_non_utf8_body_is_a_bad_signature_not_an_error() -> None:
    """Bytes that are not UTF-8 are refused as unverifiable."""
    body = b"\xff\xfe" + ORACLE_BODY
    headers = {**ORACLE_HEADERS, "X-Slack-Signature": "v0=" + "0" * 64}
    problem = _problem(body=body, headers=headers)
    assert problem == "bad signature"


def test_built_interaction_request_verifies() -> None:
    """build_interaction_request produces a body and headers the verifier accepts."""
    signed = build_interaction_request("s3cret", {"type": "block_actions"}, timestamp=1_700_000_000)
    assert signature_problem("s3cret", body=signed.body, headers=signed.headers,
                             clock=PinnedClock(1_700_000_000)) is None
