"""A real Prefect server restarted while a phase waits at its gate: the gate is still decided, the run
resumes and completes, and the phase slot the restart leaked (Prefect keeps leases in memory) is
reclaimed by the next phase of that component, once, audited.

The server, the paused phase and the CLI each run as their own process, as in production
(`prefect server start` with its own PREFECT_HOME and SQLite database on a free port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.control.store import Store
from runbook.domain.gates import GateRequest

COMPONENT = "correlation_analyzer"
GATE_PHASE = Path(__file__).with_name("_gate_phase.py")
PREFECT = str(Path(sys.executable).with_name("prefect"))
RUNBOOK = Path(sys.executable).with_name("runbook")
LIMIT = f"runbook-phase-{COMPONENT}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Server:
    """`prefect server start` as a process group; ``restart`` keeps its port and database."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.api = f"http://127.0.0.1:{port}/api"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                # The API alone (no scheduler, late-runs or other services): a gate needs nothing else,
                # and each start is seconds shorter.
                [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port),
                 "--no-services"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
            time.sleep(0.25)
        raise AssertionError(f"Prefect server not up on port {self.port}: {self.log}")

    def stop(self, *, crash: bool = False) -> None:
        """Stop the server: SIGTERM, or with ``crash`` SIGKILL (no shutdown of any kind)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL if crash else signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def active_slots(self) -> int:
        response = httpx.get(f"{self.api}/v2/concurrency_limits/{LIMIT}", timeout=10)
        response.raise_for_status()
        return int(response.json()["active_slots"])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RUNBOOK_"))}
    return {
        **base,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "RUNBOOK_HOME": str(tmp_path / "home"),
        "RUNBOOK_DATABASE_URL": f"sqlite:///{tmp_path / 'runbook.db'}",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                       str(Path(__file__).resolve().parents[2]),
                                       os.environ.get("PYTHONPATH", "")]),
    }


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[_Server]:
    port = int(env["PREFECT_API_URL"].rsplit(":", 1)[1].split("/")[0])
    running = _Server(env, port, tmp_path / "prefect-server.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def store(env: dict[str, str]) -> Iterator[Store]:
    opened = Store.from_url(env["RUNBOOK_DATABASE_URL"])
    yield opened
    opened.dispose()


def _pending_gate(store: Store, phase: subprocess.Popen[str]) -> GateRequest:
    """The gate the phase process opened (it waits paused for an answer)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with store.read() as conn:
            key = conn.execute(text("SELECT gate_key FROM gate_requests WHERE component = :c AND status = "
                                    "'pending'"), {"c": COMPONENT}).scalar()
        request = GateStore(store).request(key) if key else None
        if request is not None:
            return request
        assert phase.poll() is None, phase.communicate()[0]
        time.sleep(0.25)
    raise AssertionError("the phase never reached its gate")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUNBOOK), *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_gate_outlives_a_server_restart_and_the_leaked_slot_is_reclaimed(env, server, store):
    """Pause at a gate, kill and restart the server: the slot is still counted with its lease forgotten; the
    CLI's approval resumes the run, which completes; the slot stays leaked, so the next phase of the
    component reclaims it (one ``phase_lock_reclaimed`` row naming the finished run) and runs."""
    phase = subprocess.Popen([sys.executable, str(GATE_PHASE), COMPONENT, "carol", "ask"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        request = _pending_gate(store, phase)
        assert server.active_slots() == 1
        server.stop(crash=True)
        server.start()
        assert server.active_slots() == 1

        approved = _cli(env, "approve", request.flow_run_id, "--gate", request.gate_key, "--as", "alice")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert "resumed" in approved.stdout
        output = phase.communicate(timeout=120)[0]
        assert phase.returncode == 0, output
        assert "gate-phase: COMPLETED" in output
    finally:
        if phase.poll() is None:
            phase.kill()
    assert server.active_slots() == 1  # the run released a lease the restarted server never knew

    again = subprocess.run([sys.executable, str(GATE_PHASE), COMPONENT, "dave", "no-ask"], env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    entries = AuditLog(store).entries(component=COMPONENT)
    reclaimed = [e for e in entries if e.action == "phase_lock_reclaimed"]
    assert len(reclaimed) == 1
    assert request.flow_run_id in reclaimed[0].reason
    assert "Completed" in reclaimed[0].reason
    assert server.active_slots() == 0
