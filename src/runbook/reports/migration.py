"""The migration report: one self-contained HTML page per component (cleanup) or per demo run.

It tells the story from the audit log: every state change, gate decision, monitor verdict and
phase outcome, with links to the validation reports.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from runbook.reports.markdown import format_value

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["component_story", "display_row", "stop_check", "summary_rows", "write_migration_report"]

# Audit actions that close a gate, and how the summary words them.
_GATE_ACTIONS = {"gate_approve": "approved", "gate_reject": "rejected", "gate_timeout": "timed out"}
_OUTCOME_WORDS = {"rolled_back": "rolled back"}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f3f3f3}.ok{color:#17692b;font-weight:600}.stop{color:#a11;font-weight:600}
"""


def write_migration_report(
    store: Store, path: Path, *, title: str, components: Sequence[str],
    summary: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Write the HTML report of ``components`` to ``path`` and return it."""
    from runbook.control.audit import AuditLog

    audit = AuditLog(store)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Written {datetime.now(UTC).isoformat(timespec='seconds')} "
             f"from {html.escape(store.display_url)}</p>"]
    rows = list(summary)
    if rows:
        parts += ["<h2>Summary</h2>", _table(rows, here=path.parent)]
    states = store.states()
    for component in components:
        state = states[component]
        parts.append(f"<h2>{html.escape(component)}: {state.mode.value} "
                     f"({state.traffic_percent:g}% candidate, epoch {state.epoch})</h2>")
        entries = audit.entries(component=component)
        parts.append(_table([_audit_row(entry) for entry in entries], here=path.parent)
                     if entries else "<p>no history</p>")
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(parts)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"<style>{_STYLE}</style></head><body>{body}</body></html>\n", encoding="utf-8")
    return path


def component_story(store: Store, component: str) -> dict[str, Any]:
    """What the audit log tells of ``component``'s migration.

    ``phases_passed`` (in order), ``gates`` (decided gates by their final answer, every attempt and
    approval slot of a gate counted once), ``seconds`` from its first to its last row (None if none),
    ``stop_kind`` of its last stopped phase ("" if none), its current ``mode`` and ``traffic_percent``.
    """
    from runbook.approvals import gate_base
    from runbook.control.audit import AuditLog
    from runbook.control.outcomes import PHASE_COMPLETED, PHASE_STOPPED

    entries = AuditLog(store).entries(component=component)
    passed = [str(e.evidence.get("phase", "")) for e in entries if e.action == PHASE_COMPLETED]
    answers: dict[str, str] = {}
    for entry in entries:
        if entry.action in _GATE_ACTIONS:
            answers[gate_base(str(entry.evidence.get("gate_key", entry.id)))] = _GATE_ACTIONS[entry.action]
    stops = [e for e in entries if e.action == PHASE_STOPPED]
    state = store.state(component)
    return {
        "phases_passed": passed, "stop_kind": str(stops[-1].evidence.get("kind", "")) if stops else "",
        "gates": dict(Counter(answers.values())),
        "seconds": (entries[-1].at - entries[0].at).total_seconds() if entries else None,
        "mode": state.mode.value, "traffic_percent": state.traffic_percent,
    }


def summary_rows(store: Store, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``migrate``'s rows, each completed with its ``component_story``."""
    return [{**row, **component_story(store, str(row["component"]))} for row in rows]


def display_row(row: Mapping[str, Any]) -> dict[str, str]:
    """One summary row as people read it (console table and HTML report)."""
    status = str(row.get("status", ""))
    stopped = status not in ("completed", "not started")
    mode = str(row.get("mode", ""))
    percent = float(row.get("traffic_percent") or 0.0)
    if mode in ("canary", "shadow") and percent:
        mode = f"{mode} {percent:g}%"
    gates = row.get("gates") or {}
    seconds = row.get("seconds")
    return {
        "component": str(row["component"]),
        "outcome": _OUTCOME_WORDS.get(status, status),
        "final mode": mode,
        "phases passed": ", ".join(row.get("phases_passed") or ()) or "-",
        "stopped at / check": f"{row.get('phase') or '-'} / {stop_check(row)}" if stopped else "-",
        "gates": ", ".join(f"{n} {answer}" for answer, n in gates.items()) or "-",
        "duration": f"{seconds:.0f} s" if isinstance(seconds, int | float) else "-",
    }


def stop_check(row: Mapping[str, Any]) -> str:
    """The check that stopped a row's component, as people read it ("gate canary-25", "validation")."""
    check = str(row.get("check") or "-")
    return f"gate {check}" if str(row.get("stop_kind", "")).startswith("gate") else check


def _audit_row(entry: Any) -> dict[str, Any]:
    evidence = entry.evidence or {}
    link = evidence.get("report") or evidence.get("report_html")
    return {
        "at": entry.at.isoformat(timespec="seconds"), "action": entry.action, "actor": entry.actor,
        "change": f"{entry.from_mode or ''} -> {entry.to_mode or ''}" if entry.to_mode else "",
        "reason": entry.reason, "report": link or "",
    }


def _table(rows: Sequence[Mapping[str, Any]], *, here: Path) -> str:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(c, row.get(c), here) for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _href(target: str, here: Path) -> str:
    """A link that opens from the report server and from disk alike: URLs as they are, files
    relative to the page (reports live side by side under RUNBOOK_HOME/reports)."""
    if target.startswith(("http://", "https://")):
        return target
    return quote(os.path.relpath(Path(target).resolve(), here.resolve()).replace(os.sep, "/"))


def _cell(column: str, value: Any, here: Path) -> str:
    text = format_value(value) if value not in (None, "") else ""
    if column == "report" and text:
        href = html.escape(_href(text, here), quote=True)
        return f"<td><a href='{href}'>{html.escape(Path(text).name)}</a></td>"
    css = " class='ok'" if text in ("completed", "full", "retired") else (
        " class='stop'" if text in ("rolled_back", "rolled back", "held", "failed") else "")
    return f"<td{css}>{html.escape(text)}</td>"
