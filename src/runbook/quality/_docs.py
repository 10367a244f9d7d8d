"""Data Docs that open anywhere: one self-contained HTML page per suite run, and an index of them.

Great Expectations' own site loads its CSS and JavaScript from CDNs (offline its index is empty
and its pages lose their status), so the pages are written here from the validation results: inline
CSS, no script, no remote asset. Each run keeps its page and a JSON record beside it under
``validations/<suite>/``; the index lists every record, newest first, naming the run (the
component and phase, or the command) and the data checked.
"""

from __future__ import annotations

import html
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["DocRow", "RunNames", "write_docs"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:80rem}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f3f3f3}code{font-size:.85rem}
.passed{color:#17692b;font-weight:600}.failed,.errored{color:#a11;font-weight:600}.warning{color:#8a5a00}
"""
_INDEX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class RunNames:
    """What a page is called: the run that checked (``shadow of var_engine``) and the data checked."""

    run: str
    data_asset: str


@dataclass(frozen=True, slots=True)
class DocRow:
    """One expectation as the page shows it; ``outcome`` is passed, failed, warning or errored."""

    position: int
    expectation: str
    column: str
    severity: str
    outcome: str
    observed: str
    kwargs: str


def write_docs(
    docs_dir: Path, *, suite: str, names: RunNames, status: str, rows_checked: int, rows: Sequence[DocRow],
    at: datetime | None = None,
) -> Path:
    """Write the page of one suite run and rebuild the index; the page's path."""
    moment = at or datetime.now(UTC)
    folder = Path(docs_dir) / "validations" / suite
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{moment.strftime('%Y%m%dT%H%M%S%f')}-{_slug(names.run)}-{uuid.uuid4().hex[:6]}"
    page = folder / f"{stem}.html"
    record = {"suite": suite, "run": names.run, "data_asset": names.data_asset, "status": status,
              "rows": rows_checked, "at": moment.isoformat(timespec="seconds"),
              "page": page.relative_to(docs_dir).as_posix(), "expectations": [asdict(r) for r in rows]}
    _write(page, _page(record, rows))
    _write(folder / f"{stem}.json", json.dumps(record, indent=1, default=str))
    write_index(docs_dir)
    return page


def write_index(docs_dir: Path) -> Path:
    """The index page of every recorded run under ``docs_dir``, newest first."""
    records = []
    for path in Path(docs_dir).glob("validations/*/*.json"):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):  # a record being written by another process: next index has it
            continue
    records.sort(key=lambda r: str(r.get("at", "")), reverse=True)
    lines = [
        f"<tr><td>{_e(r.get('at'))}</td><td><a href='{_e(r.get('page'))}'>{_e(r.get('run'))}</a></td>"
        f"<td>{_e(r.get('suite'))}</td><td>{_e(r.get('data_asset'))}</td>"
        f"<td class='{_e(r.get('status'))}'>{_e(str(r.get('status', '')).upper())}</td>"
        f"<td>{_e(r.get('rows'))}</td></tr>"
        for r in records[:_INDEX_LIMIT]
    ]
    table = ("<table><tr><th>checked at (UTC)</th><th>run</th><th>suite</th><th>data</th><th>status</th>"
             f"<th>rows</th></tr>{''.join(lines)}</table>") if lines else "<p>No suite has run yet.</p>"
    index = Path(docs_dir) / "index.html"
    _write(index, _document("Data Docs", f"<h1>Data Docs</h1><p>{len(records)} suite run(s).</p>{table}"))
    return index


def _page(record: dict[str, Any], rows: Sequence[DocRow]) -> str:
    status = str(record["status"])
    head = (f"<h1>{_e(record['suite'])}: <span class='{_e(status)}'>{_e(status.upper())}</span></h1>"
            f"<table><tr><th>run</th><td>{_e(record['run'])}</td></tr>"
            f"<tr><th>data</th><td>{_e(record['data_asset'])}</td></tr>"
            f"<tr><th>rows</th><td>{_e(record['rows'])}</td></tr>"
            f"<tr><th>checked at (UTC)</th><td>{_e(record['at'])}</td></tr></table>")
    body = "".join(
        f"<tr><td>{r.position}</td><td><code>{_e(r.expectation)}</code></td><td>{_e(r.column)}</td>"
        f"<td>{_e(r.severity)}</td><td class='{_e(r.outcome)}'>{_e(r.outcome)}</td>"
        f"<td>{_e(r.observed)}</td><td><code>{_e(r.kwargs)}</code></td></tr>"
        for r in rows
    )
    table = ("<table><tr><th>#</th><th>expectation</th><th>column</th><th>severity</th><th>outcome</th>"
             f"<th>observed</th><th>arguments</th></tr>{body}</table>")
    back = "<p><a href='../../index.html'>All suite runs</a></p>"
    return _document(f"{record['suite']}: {status}", head + table + back)


def _document(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>\n")


def _write(path: Path, text: str) -> None:
    """Write whole or not at all: readers (the report server, another index build) never see half."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "run"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)
