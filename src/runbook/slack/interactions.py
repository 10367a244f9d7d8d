"""The Slack interaction endpoint: an ASGI app serving ``POST /slack/interactions`` and ``GET /healthz``.

Every request is verified on its raw body before anything is read from it. Unverified requests get
HTTP 401 with an empty body. Verified requests are acknowledged at once (HTTP 200, within Slack's
3 seconds) and the click is handled after the response, in a background task: the decision goes
through ``runbook.approvals.submit_decision``, the one code path shared with the Prefect UI and the
CLI, and the clicker gets an ephemeral reply saying what happened. Every click is audited with the
Slack user id and the action timestamp; no request, however malformed, is answered with HTTP 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk.signature import Clock as SystemClock
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runbook.settings import Settings
from runbook.slack.clicks import SIGNATURE_WINDOW_S, Clock, signature_problem
from runbook.slack.commands import PhaseStarter, parse_command
from runbook.slack.handler import AuditSink, ClickHandler, GateLookup, Replier

__all__ = ["MAX_BODY_BYTES", "create_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # Slack's interaction payloads are a few tens of KiB


class _SeenSignatures:
    """Signatures verified in the last window: a second delivery of one is a replay, not a new click."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, signature: str) -> bool:
        now = self._clock.now()
        with self._lock:
            self._seen = {sig: at for sig, at in self._seen.items() if now - at <= 2 * SIGNATURE_WINDOW_S}
            if signature in self._seen:
                return False
            self._seen[signature] = now
            return True


class _TooLarge(Exception):
    pass


class SubmitDecision(Protocol):
    """``runbook.approvals.submit_decision`` fits."""

    def __call__(self, store: Any, **kwargs: Any) -> Any: ...


def create_app(
    settings: Settings,
    *,
    store: Any | None = None,
    clock: Clock | None = None,
    replier: Replier | None = None,
    submit: SubmitDecision | None = None,
    audit: AuditSink | None = None,
    gates: GateLookup | None = None,
    starter: PhaseStarter | None = None,
) -> Starlette:
    """The ASGI app for Slack's Request URL.

    ``settings`` gives the signing secret (required), the approver allow-lists and the Slack client
    used for replies. ``store`` defaults to the configured state store; ``clock`` (``now()`` in Unix
    seconds) to the real time; ``submit`` to ``runbook.approvals.submit_decision``; ``audit`` and
    ``gates`` to the store's ``AuditLog`` and ``GateStore``; ``replier`` to a ``SlackNotifier`` (or
    none when no bot token is configured).
    """
    secret = settings.slack_signing_secret
    if not secret:
        from runbook.errors import BadParameter

        raise BadParameter("RUNBOOK_SLACK_SIGNING_SECRET is not set; the endpoint refuses unsigned requests")
    handler = ClickHandler(
        settings=settings, store=store, replier=replier, submit=submit, audit=audit, gates=gates,
        starter=starter,
    )
    endpoint = _Endpoint(secret=secret, clock=clock or SystemClock(), handler=handler)
    app = Starlette(
        routes=[
            Route("/slack/interactions", endpoint.interactions, methods=["POST"]),
            Route("/slack/commands", endpoint.commands, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ]
    )
    app.state.click_handler = handler
    return app


async def _healthz(request: Request) -> Response:  # noqa: ARG001 - Starlette calls endpoints with the request
    return JSONResponse({"ok": True})


class _Endpoint:
    def __init__(self, *, secret: str, clock: Clock, handler: ClickHandler) -> None:
        self._secret = secret
        self._clock = clock
        self._handler = handler
        self._seen = _SeenSignatures(clock)

    async def interactions(self, request: Request) -> Response:
        body, meta, refused = await self._verified(request)
        if refused is not None:
            return refused
        return Response(status_code=200, background=_later(self._handler.handle, body, meta))

    async def commands(self, request: Request) -> Response:
        """``/runbook PHASE COMPONENT``: answered at once; the phase starts after the answer."""
        body, meta, refused = await self._verified(request)
        if refused is not None:
            return refused
        command = parse_command(body)
        if isinstance(command, str):
            return JSONResponse({"response_type": "ephemeral", "text": command})
        text = f"Starting {command.phase} of {command.component} for <@{command.user_id}>..."
        return JSONResponse({"response_type": "ephemeral", "text": text},
                            background=_later(self._handler.command, command, meta))

    async def _verified(self, request: Request) -> tuple[bytes, dict[str, object], Response | None]:
        """The body and what is known of a request, or the response refusing it (401, 413, replay)."""
        try:
            body = await _read_body(request)
        except _TooLarge:
            return b"", {}, Response(status_code=413)
        except Exception:  # noqa: BLE001 - the client went away mid-body: nothing to answer
            return b"", {}, Response(status_code=400)
        meta = _request_meta(request, body)
        try:
            problem = signature_problem(self._secret, body=body, headers=request.headers, clock=self._clock)
        except Exception as exc:  # noqa: BLE001 - an unverifiable request is a 401, never a 500
            problem = f"unverifiable request ({type(exc).__name__})"
        if problem is not None:
            # No detail in the answer: a forger learns nothing. The refusal is counted and audited.
            later = _later(self._handler.unverified, problem, meta)
            return body, meta, Response(status_code=401, background=later)
        signature = request.headers["x-slack-signature"]
        first = await run_in_threadpool(self._handler.first_delivery, signature, self._seen)
        if not first:
            later = _later(self._handler.replayed, body, meta)
            return body, meta, Response(status_code=200, background=later)
        return body, meta, None


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _request_meta(request: Request, body: bytes) -> dict[str, object]:
    """What is known of a request without trusting it: where from, its claimed timestamp, its size."""
    return {
        "remote": request.client.host if request.client else None,
        "request_timestamp": request.headers.get("x-slack-request-timestamp"),
        "body_bytes": len(body),
    }


def _later(fn: Callable[..., None], *args: object) -> BackgroundTask:
    """Run ``fn`` after the response is sent (sync functions run in Starlette's thread pool)."""
    return BackgroundTask(fn, *args)
