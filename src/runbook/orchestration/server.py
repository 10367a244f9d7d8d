"""A Prefect server to talk to: the configured one, or a local one started in the background.

``runbook up`` and ``runbook demo`` use it. A server started here keeps running after the
command ends (its log is under RUNBOOK_HOME), so the UI stays open on the runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from runbook.errors import RunbookError

__all__ = ["DEFAULT_API_URL", "ServerInfo", "api_healthy", "ensure_server"]

DEFAULT_API_URL = "http://127.0.0.1:4200/api"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Where the Prefect API is and whether this process started it."""

    api_url: str
    started: bool
    pid: int | None = None
    log: Path | None = None

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/").removesuffix("/api")


def api_healthy(api_url: str, *, timeout_s: float = 2.0) -> bool:
    """True when ``<api_url>/health`` answers 200."""
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(home: Path, *, api_url: str | None = None, wait_s: float = 180.0) -> ServerInfo:
    """The server at ``api_url`` (default PREFECT_API_URL, else 127.0.0.1:4200), started if silent.

    Sets PREFECT_API_URL for this process so flows, clients and served deployments use it.
    """
    url = (api_url or os.environ.get("PREFECT_API_URL") or DEFAULT_API_URL).rstrip("/")
    os.environ["PREFECT_API_URL"] = url
    if api_healthy(url):
        return ServerInfo(url, started=False)
    host, port = _host_port(url)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "prefect-server.log"
    command = [_prefect(), "server", "start", "--host", host, "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if api_healthy(url):
            return ServerInfo(url, started=True, pid=process.pid, log=log)
        if process.poll() is not None:
            break
        time.sleep(1.0)
    raise RunbookError(f"the Prefect server did not answer at {url} within {wait_s:g} s; see {log}")


def _host_port(url: str) -> tuple[str, int]:
    parsed = httpx.URL(url)
    return parsed.host or "127.0.0.1", parsed.port or 4200


def _prefect() -> str:
    beside = Path(sys.executable).with_name("prefect")
    return str(beside) if beside.exists() else (shutil.which("prefect") or "prefect")
