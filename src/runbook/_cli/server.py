"""A Prefect server to talk to: the configured one, or a local one started in the background.

``runbook up`` starts one (it keeps running after the command ends, its log under RUNBOOK_HOME,
so the UI stays open on the runs). ``runbook demo`` looks for one with ``find_prefect`` and falls
back to Prefect's temporary server, which has no UI: links are printed only for a UI that answers.
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

__all__ = [
    "DEFAULT_API_URL", "PrefectTarget", "ServerInfo", "api_healthy", "ensure_server", "find_prefect",
    "server_log_config", "ui_answers",
]

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


def ui_answers(ui_url: str, *, timeout_s: float = 2.0) -> bool:
    """True when ``ui_url`` serves the Prefect UI (an HTML page; a server without its UI says 404)."""
    try:
        response = httpx.get(ui_url, timeout=timeout_s, follow_redirects=True)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "text/html" in response.headers.get("content-type", "")


@dataclass(frozen=True, slots=True)
class PrefectTarget:
    """The Prefect API a command uses and the UI it may link to.

    ``temporary``: Prefect's own temporary server, started on first use, without a UI (its
    ``api_url`` is known once it runs). ``ui_url`` is set only when a UI answered. ``configured``
    is PREFECT_API_URL as found, also when it did not answer.
    """

    api_url: str | None
    ui_url: str | None = None
    configured: str | None = None
    temporary: bool = False

    @property
    def up_ui_url(self) -> str:
        """Where the UI is once ``runbook up`` runs (it serves ``configured`` or the default URL)."""
        return ServerInfo(self.configured or DEFAULT_API_URL, started=False).ui_url

    def run_link(self, flow_run_id: str) -> str | None:
        """The UI page of a flow run, when a UI answered."""
        return f"{self.ui_url}/runs/flow-run/{flow_run_id}" if self.ui_url else None


def find_prefect(
    *, api_url: str | None, ui_url: str | None = None, probe_default: bool = True
) -> PrefectTarget:
    """The Prefect server to use: ``api_url`` (PREFECT_API_URL) when it answers; without one, the
    server ``runbook up`` runs at the default URL when it answers (``probe_default``); else the
    temporary server. ``ui_url`` (PREFECT_UI_URL) is checked, else the API's own address.
    """
    if api_url:
        if api_healthy(api_url):
            return PrefectTarget(api_url, _answering_ui(api_url, ui_url), configured=api_url)
        return PrefectTarget(None, configured=api_url, temporary=True)
    if probe_default and api_healthy(DEFAULT_API_URL):
        return PrefectTarget(DEFAULT_API_URL, _answering_ui(DEFAULT_API_URL, ui_url))
    return PrefectTarget(None, temporary=True)


def _answering_ui(api_url: str, ui_url: str | None) -> str | None:
    candidate = (ui_url or ServerInfo(api_url, started=False).ui_url).rstrip("/")
    return candidate if ui_answers(candidate) else None


def server_log_config(log: Path) -> dict[str, object]:
    """A logging configuration for Prefect's temporary server process: everything it logs at
    WARNING and above goes to ``log`` instead of the terminal it shares with the command."""
    to_file = {"handlers": ["file"], "propagate": False, "level": "WARNING"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log), "formatter": "plain",
                              "level": "WARNING", "delay": True}},
        "loggers": {name: dict(to_file) for name in ("prefect", "uvicorn", "fastapi")},
        "root": {"level": "WARNING", "handlers": ["file"]},
    }


def ensure_server(home: Path, *, api_url: str | None = None, wait_s: float = 180.0) -> ServerInfo:
    """The server at ``api_url`` (default PREFECT_API_URL, else 127.0.0.1:4200), started if silent.

    Sets PREFECT_API_URL for this process so flows, clients and served deployments use it.
    """
    url = (api_url or os.environ.get("PREFECT_API_URL") or DEFAULT_API_URL).rstrip("/")
    os.environ["PREFECT_API_URL"] = url
    # A risk platform's server sends nothing home unless asked to (and most such hosts cannot).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
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
