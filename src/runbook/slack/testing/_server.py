"""The fake Slack Web API server: a real HTTP server on 127.0.0.1 that records every call."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FAKE_TOKEN", "TEAM_ID", "FakeSlackServer", "RecordedCall"]

FAKE_TOKEN = "xoxb-runbook-test"
TEAM_ID = "T0RUNBOOK"
_TEAM = {"team": "Runbook Test", "team_id": TEAM_ID, "url": "https://runbook-test.slack.com/"}


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One Web API call as the fake received it (``params`` form or query, ``json`` body) and answered."""

    method: str
    headers: dict[str, str]
    params: dict[str, str]
    json: dict[str, Any] | None
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def args(self) -> dict[str, Any]:
        """The call's arguments whichever way they were sent (JSON body wins)."""
        return {**self.params, **(self.json or {})}


@dataclass(slots=True)
class _Behaviour:
    rate_limited_calls: int = 0
    retry_after_s: int = 0
    failing: bool = False
    calls: list[RecordedCall] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class FakeSlackServer:
    """A local Slack Web API that records calls; use as a context manager or ``start()``/``stop()``.

    ``rate_limit(n, retry_after_s=0)`` answers the next ``n`` calls with HTTP 429 and ``Retry-After``;
    ``go_down("refuse")`` closes the port (connection refused), ``go_down("error")`` answers HTTP 500;
    ``come_up()`` restores service on the same port.
    """

    def __init__(self, *, token: str = FAKE_TOKEN) -> None:
        self.token = token
        self._state = _Behaviour()
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeSlackServer:
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The Web API base URL to pass to ``WebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self._port}/api/"

    # -- behaviour ------------------------------------------------------------------------------
    def rate_limit(self, calls: int, *, retry_after_s: int = 0) -> None:
        """Answer the next ``calls`` requests with HTTP 429 and ``Retry-After: retry_after_s``."""
        with self._lock:
            self._state.rate_limited_calls = calls
            self._state.retry_after_s = retry_after_s

    def go_down(self, mode: str = "refuse") -> None:
        """Stop answering: ``"refuse"`` closes the port, ``"error"`` answers HTTP 500 to everything."""
        if mode not in {"refuse", "error"}:
            raise ValueError(f"mode {mode!r} is not one of 'refuse', 'error'")
        if mode == "error":
            with self._lock:
                self._state.failing = True
            return
        self.stop()

    def come_up(self) -> None:
        """Serve normally again (same port)."""
        with self._lock:
            self._state.failing = False
        if self._server is None:
            self.start()

    # -- what was seen --------------------------------------------------------------------------
    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._state.calls)

    def calls_for(self, method: str) -> list[RecordedCall]:
        """Recorded calls of one Web API method (e.g. ``"chat.update"``), oldest first."""
        return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, *, count: int = 1, timeout_s: float = 10.0) -> list[RecordedCall]:
        """Block until ``count`` calls of ``method`` were recorded; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                seen = [call for call in self._state.calls if call.method == method]
                if len(seen) >= count:
                    return seen
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"saw {len(seen)} {method} call(s), expected {count}")
                self._lock.wait(remaining)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The current content of a posted message (after any updates)."""
        with self._lock:
            return self._state.messages.get((channel, ts))

    # -- serving (called from the handler thread) -------------------------------------------------
    def _record(self, call: RecordedCall) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            status, headers, answer = self._respond(call)
            # A copy: later chat.update calls must not rewrite what this call was answered.
            self._state.calls.append(replace(call, status=status, response=json.loads(json.dumps(answer))))
            self._lock.notify_all()
            return status, headers, answer

    def _respond(self, call: RecordedCall) -> tuple[int, dict[str, str], dict[str, Any]]:
        if self._state.failing:
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if self._state.rate_limited_calls > 0:
            self._state.rate_limited_calls -= 1
            retry_after = {"Retry-After": str(self._state.retry_after_s)}
            return 429, retry_after, {"ok": False, "error": "ratelimited"}
        return 200, {}, self._answer(call)

    def _answer(self, call: RecordedCall) -> dict[str, Any]:
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
        }.get(call.method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(call.args)

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG002 - every Web API method handler takes its arguments
        return {"ok": True, **_TEAM, "user": "runbook", "user_id": "U0RUNBOOK", "bot_id": "B0RUNBOOK"}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        message = {"type": "message", "bot_id": "B0RUNBOOK", "ts": ts, "text": args.get("text", "")}
        for key in ("blocks", "thread_ts"):
            if key in args:
                message[key] = args[key]
        self._state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        message = self._state.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.update({key: args[key] for key in ("text", "blocks") if key in args})
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}


def _handler_for(fake: FakeSlackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = _parse_call(url.path, url.query, dict(self.headers.items()), raw)
            status, headers, answer = fake._record(call)
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read the recorded calls instead."""

    return Handler


def _parse_call(path: str, query: str, headers: Mapping[str, str], raw: bytes) -> RecordedCall:
    method = path.rsplit("/", 1)[-1]
    params = dict(parse_qsl(query))
    body_json: dict[str, Any] | None = None
    content_type = headers.get("Content-Type", "")
    if raw and content_type.startswith("application/json"):
        body_json = json.loads(raw)
    elif raw:
        params.update(parse_qsl(raw.decode("utf-8")))
    lowered = {name.lower(): value for name, value in headers.items()}
    return RecordedCall(method=method, headers=lowered, params=params, json=body_json)
