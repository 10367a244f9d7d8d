"""The Slack Web API client: one factory with rate-limit and connection retries, and an auth check."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from runbook.settings import Settings

__all__ = [
    "BoundedRateLimitRetryHandler",
    "SlackAuth", "bot_token", "check_auth", "client_from_settings", "make_web_client"]

log = logging.getLogger(__name__)


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries HTTP 429 after ``Retry-After`` seconds, unless Slack asks for more than ``max_wait_s``.

    A long wait would hold a flow for a notification; giving up is logged by the caller instead.
    """

    def __init__(self, *, max_retry_count: int = 2, max_wait_s: float = 10.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        return _retry_after_s(response.headers) <= self.max_wait_s


def _retry_after_s(headers: dict[str, Any]) -> float:
    for name, values in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(values[0] if isinstance(values, list) else values)
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def make_web_client(
    *,
    token: str,
    base_url: str = "https://slack.com/api/",
    timeout_s: int = 10,
    rate_limit_retries: int = 2,
    max_rate_limit_wait_s: float = 10.0,
    connection_retries: int = 1,
) -> WebClient:
    """A ``WebClient`` that retries HTTP 429 (after ``Retry-After``) and dropped connections.

    ``retry_handlers=`` replaces slack_sdk's defaults, so both handlers are listed here.
    ``timeout_s`` bounds each attempt and ``max_rate_limit_wait_s`` each rate-limit wait (seconds),
    so a slow or throttling Slack cannot stall a flow for long.
    """
    handlers = [
        BoundedRateLimitRetryHandler(max_retry_count=rate_limit_retries, max_wait_s=max_rate_limit_wait_s),
        ConnectionErrorRetryHandler(max_retry_count=connection_retries),
    ]
    return WebClient(token=token, base_url=base_url, timeout=timeout_s, retry_handlers=handlers)


def bot_token(settings: Settings, *, secret_loader: Callable[[str], str | None] | None = None) -> str | None:
    """The bot token: ``RUNBOOK_SLACK_BOT_TOKEN``, else the Prefect Secret block named by
    ``RUNBOOK_SLACK_BOT_TOKEN_BLOCK``, else None (Slack not configured)."""
    if settings.slack_bot_token:
        return settings.slack_bot_token
    if settings.slack_bot_token_block:
        return (secret_loader or _token_from_secret_block)(settings.slack_bot_token_block)
    return None


def client_from_settings(
    settings: Settings, *, secret_loader: Callable[[str], str | None] | None = None
) -> WebClient | None:
    """The client for the configured bot token, or None when Slack is not configured."""
    token = bot_token(settings, secret_loader=secret_loader)
    if not token:
        return None
    return make_web_client(token=token, base_url=settings.slack_api_url)


def _token_from_secret_block(name: str) -> str | None:
    """The token held by a Prefect Secret block, or None (logged) when it cannot be read."""
    try:
        from prefect.blocks.system import Secret

        block = cast(Secret, Secret.load(name, _sync=True))  # type: ignore[call-arg]  # sync in async flows too
        return str(block.get())
    except Exception as exc:  # noqa: BLE001 - an unreadable Secret block means no Slack, logged, never a failed flow
        log.warning("could not read the Slack bot token from Secret block %r: %s", name, exc)
        return None


@dataclass(frozen=True, slots=True)
class SlackAuth:
    """What ``auth.test`` said: ``ok`` with the workspace and bot identity, or the ``error``."""

    ok: bool
    team: str = ""
    url: str = ""
    user: str = ""
    bot_id: str = ""
    error: str = ""


def check_auth(client: WebClient) -> SlackAuth:
    """Call ``auth.test``; never raises: an API or connection failure comes back as ``error``."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        return SlackAuth(ok=False, error=str(exc.response.get("error", exc)))
    except (SlackClientError, OSError) as exc:
        return SlackAuth(ok=False, error=f"{type(exc).__name__}: {exc}")
    return SlackAuth(
        ok=True,
        team=str(response.get("team", "")),
        url=str(response.get("url", "")),
        user=str(response.get("user", "")),
        bot_id=str(response.get("bot_id", "")),
    )
