"""What the demo shows: Prefect's console without stop tracebacks, the summary, and links only to a
Prefect UI that answers."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from runbook._cli.demo import DemoResult
from runbook._cli.demo_output import (
    DemoConsoleFilter,
    StopTracebackFilter,
    print_summary,
    quiet_prefect_console,
)
from runbook._cli.server import PrefectTarget, find_prefect, server_log_config
from runbook.errors import AutomaticRollback, GateRejected, GateTimedOut, ValidationFailed
from runbook.reports.migration import display_row


def _record(name: str, level: int, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    record = logging.LogRecord(name, level, __file__, 1, "Encountered exception during execution: %r",
                               (error,), exc_info)
    record.flow_run_name = record.task_run_name = "brave-otter"  # what Prefect's run loggers add
    return record


@pytest.mark.parametrize("error", [ValidationFailed("held"), AutomaticRollback("rolled back"),
                                   GateRejected("rejected"), GateTimedOut("timed out")])
def test_a_stopped_phase_leaves_no_traceback_on_the_console(error):
    """The exception that ends a phase the runbook stopped is not shown on the console."""
    assert not StopTracebackFilter().filter(_record("prefect.flow_runs", logging.ERROR, error))


def test_unexpected_errors_still_reach_the_console():
    """An unexpected exception, and any record without one, passes both filters."""
    for console_filter in (StopTracebackFilter(), DemoConsoleFilter()):
        assert console_filter.filter(_record("prefect.flow_runs", logging.ERROR, KeyError("x")))
        assert console_filter.filter(_record("prefect", logging.WARNING))


def test_the_demo_console_drops_run_messages_the_notifier_printed():
    """Flow and task run messages below ERROR are left to the notifier's own lines."""
    demo = DemoConsoleFilter()
    assert not demo.filter(_record("prefect.flow_runs", logging.WARNING))
    assert not demo.filter(_record("prefect.task_runs", logging.INFO))
    assert StopTracebackFilter().filter(_record("prefect.flow_runs", logging.WARNING))


def test_quiet_console_is_for_the_block_only():
    """Inside the block a stop's traceback is not printed and an unexpected error is; after it,
    Prefect's console is as it was."""
    from runbook._cli.demo_output import _console_handlers

    handler = _console_handlers()[0]
    level = handler.level
    # Read what the handler writes from a stream of our own: which stderr object Prefect's handler
    # captured depends on which test configured Prefect's logging first.
    written = io.StringIO()
    original = handler.console.file
    handler.console.file = written
    try:
        with quiet_prefect_console():
            handler.handle(_record("prefect.flow_runs", logging.ERROR, GateRejected("gate shadow rejected")))
            assert "GateRejected" not in _drain(written)
            handler.handle(_record("prefect.flow_runs", logging.ERROR, KeyError("boom")))
            assert "KeyError" in _drain(written)
        assert handler.level == level
        handler.handle(_record("prefect.flow_runs", logging.ERROR, GateRejected("gate shadow rejected")))
        assert "GateRejected" in _drain(written)
    finally:
        handler.console.file = original


def _drain(stream: io.StringIO) -> str:
    text = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    return text


def _result(tmp_path: Path, rows: list[dict], code: int) -> DemoResult:
    report = tmp_path / "reports" / "demo-migration-report.html"
    return DemoResult(tuple(rows), code, report, 42.4, tmp_path, database_url=f"sqlite:///{tmp_path}/runbook.db",
                      audit_rows=12, flow_run_id="0b7c0f3e-1111-4000-8000-000000000000")


def _story(component: str, status: str, **fields) -> dict:
    return {"component": component, "status": status, "phase": "", "check": "", "reason": "",
            "mode": "legacy", "traffic_percent": 0.0, "phases_passed": [], "gates": {}, "seconds": None,
            "stop_kind": "", **fields}


def _printed(result: DemoResult, prefect: PrefectTarget) -> str:
    buffer = io.StringIO()
    print_summary(Console(file=buffer, width=200, highlight=False), result, prefect=prefect)
    return buffer.getvalue()


def test_the_summary_names_what_stopped_and_where_to_look(tmp_path):
    """Table row per component, the stop with its check and reason, exit code, total duration,
    the report, a command that reads the demo's audit log, and the migrate run without a UI link."""
    rows = [
        _story("market_data_provider", "completed", mode="retired", traffic_percent=100.0, seconds=31.2,
               phases_passed=["readiness", "shadow", "canary", "cleanup"], gates={"approved": 5}),
        _story("performance_analyzer", "rolled_back", phase="canary", check="canary-25", mode="rolled_back",
               stop_kind="gate_rejected", reason="gate canary-25 rejected", seconds=20.0,
               phases_passed=["readiness", "shadow"], gates={"approved": 2, "rejected": 1}),
        _story("correlation_analyzer", "not started"),
    ]
    result = _result(tmp_path, rows, 3)
    out = _printed(result, PrefectTarget("http://127.0.0.1:8123/api", temporary=True))
    table = out.split("Migration summary")[1]
    for row in rows:
        for value in display_row(row).values():
            assert value in table
    assert "canary / gate canary-25" in out
    assert "performance_analyzer rolled back in canary by gate canary-25: gate canary-25 rejected" in out
    assert "Total: 42 s" in out
    assert "exit code 3" in out
    assert f"HTML report: {result.report}" in out
    assert f"RUNBOOK_DATABASE_URL={result.database_url} runbook audit --verify" in out
    assert result.flow_run_id in out
    assert "runbook up" in out
    assert "12 rows, hash chain verified" in out


def test_runs_are_linked_only_when_a_ui_answered(tmp_path):
    """With a UI the migrate run is a link to it; without one, the id and how to get a UI."""
    result = _result(tmp_path, [_story("var_engine", "completed", mode="full")], 0)
    with_ui = _printed(result, PrefectTarget("http://127.0.0.1:4200/api", ui_url="http://127.0.0.1:4200"))
    assert f"http://127.0.0.1:4200/runs/flow-run/{result.flow_run_id}" in with_ui
    assert "runbook up" not in with_ui
    without = _printed(result, PrefectTarget("http://127.0.0.1:8123/api", temporary=True))
    assert "without a UI" in without
    assert "start `runbook up`, then open" in without


class _Prefect(BaseHTTPRequestHandler):
    """A stand-in Prefect server: /api/health answers; / is the UI only when ``ui`` is set."""

    ui = False

    def do_GET(self) -> None:
        if self.path == "/api/health":
            self._send(200, "application/json", b"true")
        elif self.path == "/" and self.ui:
            self._send(200, "text/html; charset=utf-8", b"<!doctype html><title>Prefect</title>")
        else:
            self._send(404, "application/json", b'{"detail":"Not Found"}')

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=[True, False], ids=["with-ui", "api-only"])
def stand_in(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    handler = type("Handler", (_Prefect,), {"ui": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    server.shutdown()
    server.server_close()


def test_a_configured_server_is_used_and_its_ui_linked_only_when_it_serves_one(stand_in):
    """PREFECT_API_URL that answers is used; its UI address counts only when it serves a page."""
    address, has_ui = stand_in
    target = find_prefect(api_url=f"{address}/api", ui_url=None, probe_default=False)
    api = f"{address}/api"
    assert (target.api_url, target.temporary, target.configured) == (api, False, api)
    assert target.ui_url == (address if has_ui else None)
    assert (target.run_link("abc") is not None) is has_ui


def test_a_silent_configured_server_falls_back_to_the_temporary_one():
    """A PREFECT_API_URL that does not answer: Prefect's temporary server, no UI, the URL kept to say so."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    silent = f"http://127.0.0.1:{port}/api"
    target = find_prefect(api_url=silent, ui_url=None, probe_default=False)
    assert target.temporary
    assert target.api_url is None
    assert target.ui_url is None
    assert target.configured == silent
    assert target.up_ui_url == f"http://127.0.0.1:{port}"
    assert find_prefect(api_url=None, probe_default=False).temporary


def test_the_temporary_servers_log_goes_to_its_file(tmp_path):
    """The temporary server's logging configuration sends its warnings to the file, not the terminal."""
    log = tmp_path / "prefect-server.log"
    config = tmp_path / "logging.json"
    config.write_text(json.dumps(server_log_config(log)), encoding="utf-8")
    script = ("import json, logging.config, sys; logging.config.dictConfig(json.load(open(sys.argv[1]))); "
              "logging.getLogger('prefect.server').error('database is locked'); "
              "logging.getLogger('uvicorn.error').warning('slow request')")
    done = subprocess.run([sys.executable, "-c", script, str(config)], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stderr == ""
    text = log.read_text(encoding="utf-8")
    assert "database is locked" in text
    assert "slow request" in text
