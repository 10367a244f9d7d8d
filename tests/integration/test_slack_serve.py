"""The endpoint behind a real server: acknowledged before the work, and `runbook slack serve` itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from runbook.domain.gates import GatePolicy, GateRequest
from runbook.settings import Settings
from runbook.slack.interactions import create_app
from runbook.slack.testing import build_interaction_request, gate_click_payload

SECRET = "serve-signing-secret"
RUN = "5e7e0000-0000-4000-8000-000000000005"
KEY = "canary.performance_analyzer.step-10.run-5e7e0000.a1.s1"


def _free_port() -> int:
    """A port free just now; another process may take it before ours binds it (see the serve test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_socket() -> socket.socket:
    """A socket already bound and listening on a port of the kernel's choice: nobody can take it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


class _BlockingPorts:
    """Ports whose submit waits until released, to show the HTTP answer does not wait for it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.audit: list[dict[str, Any]] = []
        self.request_row = GateRequest(
            gate_key=KEY, flow_run_id=RUN, component="performance_analyzer", phase="canary", title="t",
            critical=False, policy=GatePolicy(), initiator=None, evidence={}, created_at=datetime.now(UTC),
        )

    def submit(self, store: object, **kwargs: Any) -> Any:
        self.started.set()
        self.release.wait(30)
        self.finished.set()
        raise RuntimeError("released")

    def append(self, **row: Any) -> None:
        self.audit.append(row)

    def request(self, gate_key: str) -> GateRequest | None:
        return self.request_row

    def ephemeral(self, *, channel: str, user: str, text: str) -> bool:
        return True

    def gate_decided(self, request: GateRequest, records: list) -> None:
        """Not reached in this test."""


@pytest.fixture
def served() -> Iterator[tuple[str, _BlockingPorts]]:
    ports = _BlockingPorts()
    app = create_app(Settings(slack_signing_secret=SECRET), store=object(), replier=ports,
                     submit=ports.submit, audit=ports, gates=ports)
    sock = _listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", ports
    finally:
        ports.release.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_click_is_acknowledged_before_the_decision_work_finishes(served: tuple[str, _BlockingPorts]) -> None:
    """Slack gets its 200 while submit_decision is still blocked: the work happens after the answer."""
    url, ports = served
    payload = gate_click_payload(user_id="U0BOB", flow_run_id=RUN, gate_key=KEY)
    signed = build_interaction_request(SECRET, payload)
    response = httpx.post(f"{url}/slack/interactions", content=signed.body, headers=signed.headers,
                          timeout=20)
    assert response.status_code == 200
    assert not ports.finished.is_set()  # answered while the decision work is still held
    assert ports.started.wait(20)
    ports.release.set()
    assert ports.finished.wait(20)


def test_runbook_slack_serve_answers_healthz_and_refuses_unsigned(tmp_path: os.PathLike[str]) -> None:
    """`runbook slack serve --port N` serves /healthz and answers an unsigned click with 401."""
    env = {**os.environ, "RUNBOOK_SLACK_SIGNING_SECRET": SECRET,
           "RUNBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db", "RUNBOOK_SLACK_BOT_TOKEN": ""}
    process, port = _serve_on_a_free_port(env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert health.json() == {"ok": True}
        refused = httpx.post(f"http://127.0.0.1:{port}/slack/interactions", content=b"payload=%7B%7D",
                             timeout=5)
        assert (refused.status_code, refused.content) == (401, b"")
    finally:
        process.terminate()
        process.wait(20)


def _serve_on_a_free_port(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start `runbook slack serve` on a free port; start it again on another one only when some other
    process took the port between our choosing it and the server binding it (a shared machine)."""
    for _ in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "runbook.cli", "slack", "serve", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        if not _lost_its_port(process, port):
            return process, port
    raise AssertionError("three free ports in a row were taken before the server bound them")


def _lost_its_port(process: subprocess.Popen[bytes], port: int) -> bool:
    """Wait until the server listens on ``port`` or exits; True when it exited as the port was in use."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return False
        time.sleep(0.2)
    if process.poll() is None:
        return False  # not up yet: the caller's own wait reports it
    output = process.stdout.read().decode() if process.stdout else ""
    return "address already in use" in output.lower()
