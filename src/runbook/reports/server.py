"""The report server: validation and migration reports and Data Docs over HTTP, read-only.

``runbook up`` starts one beside the Prefect server (``RUNBOOK_REPORTS_URL``, default
http://127.0.0.1:4280), so the links in the pause form, Slack and the CLI open in a browser.
It serves the ``reports`` and ``data_docs`` folders of RUNBOOK_HOME and nothing else there (not
the store, not hidden files); ``/`` lists the newest reports. Standard library only.
"""

from __future__ import annotations

import html
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from runbook.reports.links import SERVED_FOLDERS

__all__ = ["ReportServer", "start_report_server"]

_LISTED = 200


class _Handler(SimpleHTTPRequestHandler):
    """GET and HEAD of files under the served folders; 404 for anything else."""

    def __init__(self, *args: Any, home: Path, **kwargs: Any) -> None:
        self._home = home
        super().__init__(*args, directory=str(home), **kwargs)

    def send_head(self) -> Any:
        path = urlsplit(self.path).path
        if path in ("", "/"):
            return self._landing()
        parts = [p for p in unquote(path).split("/") if p]
        if not parts or parts[0] not in SERVED_FOLDERS or any(p.startswith(".") for p in parts):
            self.send_error(HTTPStatus.NOT_FOUND, "not a report")
            return None
        if Path(self.translate_path(self.path)).is_dir():
            self.send_error(HTTPStatus.NOT_FOUND, "not a report")
            return None
        return super().send_head()

    def _landing(self) -> Any:
        import io

        reports = sorted((self._home / "reports").rglob("*.html"), key=_mtime, reverse=True)[:_LISTED]
        items = "".join(
            f"<li><a href='/{html.escape(p.relative_to(self._home).as_posix())}'>"
            f"{html.escape(p.relative_to(self._home / 'reports').as_posix())}</a></li>"
            for p in reports
        )
        body = (f"<!doctype html><html><head><meta charset='utf-8'><title>runbook reports</title></head>"
                f"<body><h1>runbook reports</h1><p><a href='/data_docs/index.html'>Data Docs</a></p>"
                f"<ul>{items or '<li>no report yet</li>'}</ul></body></html>").encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are not worth a terminal line each."""


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class ReportServer:
    """A running report server (a daemon thread); ``url`` is its base URL."""

    def __init__(self, home: Path, *, host: str, port: int) -> None:
        self._httpd = ThreadingHTTPServer((host, port), partial(_Handler, home=Path(home).resolve()))
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="runbook-reports", daemon=True)

    def start(self) -> ReportServer:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReportServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_report_server(home: Path, *, base_url: str) -> ReportServer:
    """Serve ``home``'s reports at ``base_url`` (its host and port; port 0 picks a free one).

    Raises OSError when the address is taken (e.g. another ``runbook up`` serves it already).
    """
    parts = urlsplit(base_url)
    port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    return ReportServer(home, host=parts.hostname or "127.0.0.1", port=port).start()
