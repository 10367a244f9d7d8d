"""Links to evidence: files under RUNBOOK_HOME's reports and Data Docs as URLs of the report server.

A browser refuses ``file://`` links from a web page and a server path means nothing in Slack, so
every link people follow (UI artifacts, the pause form, Slack, the CLI) points at the HTTP server
``runbook up`` starts (``runbook.reports.server``, base URL ``RUNBOOK_REPORTS_URL``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

__all__ = ["SERVED_FOLDERS", "evidence_url", "is_url"]

# The folders of RUNBOOK_HOME the report server serves (never the store or anything else there).
SERVED_FOLDERS = ("reports", "data_docs")


def is_url(text: object) -> bool:
    """True for an http(s) URL."""
    return isinstance(text, str) and text.startswith(("http://", "https://"))


def evidence_url(path: str | Path | None, *, home: Path, base_url: str) -> str | None:
    """The URL of ``path`` on the report server, or None when it is not a served file.

    ``path`` may be absolute or relative to the working directory, as ``home`` may be; URLs are
    returned as they are.
    """
    if path is None or str(path) == "":
        return None
    if is_url(str(path)):
        return str(path)
    try:
        relative = Path(path).resolve().relative_to(Path(home).resolve())
    except ValueError:
        return None
    if not relative.parts or relative.parts[0] not in SERVED_FOLDERS:
        return None
    return f"{base_url.rstrip('/')}/{quote(relative.as_posix())}"
