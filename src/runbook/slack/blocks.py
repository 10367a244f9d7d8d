"""Block Kit payloads (pure): gate requests and decisions, rollback alerts, validation and nightly results.

Each builder returns ``(text, blocks)``: ``text`` is the notification fallback, ``blocks`` the
message layout. Button values carry the run and the gate they answer, so a click is
self-describing and a stale button can be recognised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GateRequest

__all__ = [
    "ACTION_APPROVE",
    "ACTION_REJECT",
    "GATE_ACTIONS",
    "button_value",
    "decision_line",
    "evidence_items",
    "format_value",
    "gate_decided_blocks",
    "gate_request_blocks",
    "nightly_result_blocks",
    "parse_button_value",
    "rollback_alert_blocks",
    "run_update_blocks",
    "validation_result_blocks",
]

ACTION_APPROVE = "runbook_gate_approve"
ACTION_REJECT = "runbook_gate_reject"
GATE_ACTIONS: dict[str, Decision] = {ACTION_APPROVE: Decision.APPROVE, ACTION_REJECT: Decision.REJECT}

Blocks = list[dict[str, Any]]

# Slack's limits: 10 fields per section, 150 characters in a header, 2000 in a field, 50 blocks.
_FIELDS_PER_SECTION = 10
_MAX_EVIDENCE_FIELDS = 20
_HEADER_CHARS = 150
_FIELD_CHARS = 1900


def button_value(*, flow_run_id: str, gate_key: str) -> str:
    """The value of a gate button: compact JSON naming the run and the gate key."""
    return json.dumps({"flow_run_id": flow_run_id, "gate_key": gate_key}, separators=(",", ":"))


def parse_button_value(value: object) -> tuple[str, str]:
    """``(flow_run_id, gate_key)`` from a button value; ``ValueError`` saying what is wrong otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"button value must be a JSON string, got {type(value).__name__}")
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"button value is not JSON: {value[:80]!r}") from exc
    if not isinstance(decoded, dict):
        raise ValueError("button value must be a JSON object with flow_run_id and gate_key")
    flow_run_id, key = decoded.get("flow_run_id"), decoded.get("gate_key")
    if not (isinstance(flow_run_id, str) and flow_run_id and isinstance(key, str) and key):
        raise ValueError("button value needs non-empty string flow_run_id and gate_key")
    return flow_run_id, key


def gate_request_blocks(request: GateRequest, *, run_url: str) -> tuple[str, Blocks]:
    """A gate waiting for a decision: evidence, the run link, Approve (with confirmation) and Reject."""
    text = f"Gate waiting: {request.title} ({request.component}, {request.phase})"
    value = button_value(flow_run_id=request.flow_run_id, gate_key=request.gate_key)
    approve = {
        "type": "button",
        "action_id": ACTION_APPROVE,
        "text": _plain("Approve"),
        "style": "primary",
        "value": value,
        "confirm": {
            "title": _plain("Approve this gate?"),
            "text": _mrkdwn(f"Approving lets *{request.component}* move on in phase *{request.phase}*."),
            "confirm": _plain("Approve"),
            "deny": _plain("Cancel"),
        },
    }
    reject = {
        "type": "button", "action_id": ACTION_REJECT, "text": _plain("Reject"), "style": "danger",
        "value": value,
        "confirm": {
            "title": _plain("Reject this gate?"),
            "text": _mrkdwn(f"Rejecting stops phase *{request.phase}* of *{request.component}* "
                            "and rolls it back to legacy (unless the gate is set to hold)."),
            "confirm": _plain("Reject"),
            "deny": _plain("Cancel"),
            "style": "danger",
        },
    }
    blocks = [
        *_gate_head(request),
        *([_section(f"<{run_url}|Open the run in Prefect>")] if run_url else []),
        {"type": "actions", "block_id": "runbook_gate", "elements": [approve, reject]},
        _context(f"gate `{request.gate_key}`"),
    ]
    return text, blocks


def gate_decided_blocks(request: GateRequest, records: Sequence[GateDecisionRecord]) -> tuple[str, Blocks]:
    """The gate message once decided: same evidence, buttons removed, who decided and when (UTC)."""
    lines = [decision_line(record) for record in records] or ["Decided (no decision recorded)"]
    text = f"{request.title}: " + "; ".join(lines)
    blocks = [*_gate_head(request), _section("\n".join(lines)), _context(f"gate `{request.gate_key}`")]
    return text, blocks


def gate_superseded_blocks(request: GateRequest, reason: str) -> tuple[str, Blocks]:
    """A gate message whose answer was refused: buttons removed, the reason, where it asks again."""
    text = f"{request.title}: answer refused ({reason}); a new message asks again"
    blocks = [*_gate_head(request), _section(f":no_entry: Answer refused: {_cut(reason)}\n"
                                             "This message is superseded; a new one asks again."),
              _context(f"gate `{request.gate_key}`")]
    return text, blocks


def rollback_alert_blocks(
    component: str, *, reason: str, evidence: Mapping[str, object], automatic: bool, kind: str | None = None
) -> tuple[str, Blocks]:
    """An automatic or emergency rollback of ``component`` (or ``kind``, e.g. a human rejection's),
    with the evidence that triggered it."""
    kind = kind or ("Automatic rollback" if automatic else "Emergency rollback")
    text = f":rotating_light: {kind}: {component} serves legacy again. Reason: {reason}"
    blocks = [
        _header(f"{kind}: {component}"),
        _section(f":rotating_light: *{component}* is back on the legacy engine.\n*Reason:* {_cut(reason)}"),
        *_evidence_sections(evidence),
    ]
    return text, blocks


def validation_result_blocks(
    component: str, *, passed: bool, summary: Mapping[str, object]
) -> tuple[str, Blocks]:
    """A validation result for ``component``; ``summary`` holds the headline numbers."""
    verdict = "passed" if passed else "FAILED"
    icon = ":white_check_mark:" if passed else ":x:"
    text = f"{icon} Validation {verdict}: {component}"
    return text, [_header(f"Validation {verdict}: {component}"), *_evidence_sections(summary)]


def nightly_result_blocks(rows: Sequence[Mapping[str, object]]) -> tuple[str, Blocks]:
    """The nightly re-validation: one line per component row (``component``, ``passed``, other numbers)."""
    failed = [row for row in rows if not row.get("passed", False)]
    text = f"Nightly validation: {len(rows) - len(failed)}/{len(rows)} components passed"
    lines = [_nightly_line(row) for row in rows] or ["No component is in migration."]
    return text, [_header("Nightly validation"), _section(_cut("\n".join(lines)))]


def run_update_blocks(text: str) -> Blocks:
    """A progress line in a migration run's thread."""
    return [_section(_cut(text))]


# -- pieces ---------------------------------------------------------------------------------------


def _gate_head(request: GateRequest) -> Blocks:
    tier = "critical: two different approvers, not the initiator" if request.critical else "standard"
    approvals = request.policy.required_approvals
    facts = (
        f"*Component:* {request.component}   *Phase:* {request.phase}\n"
        f"*Tier:* {tier}   *Approvals needed:* {approvals}"
    )
    if request.initiator:
        facts += f"\n*Started by:* {request.initiator}"
    if request.policy.verified_only:
        facts += "\n*Identity:* verified only (Slack or a signed `runbook approve --sign-with`)"
    if request.expires_at is not None:
        facts += f"\n*Expires:* {_when(request.expires_at)} (then nothing is promoted)"
    return [_header(request.title or f"Gate: {request.component}"), _section(facts),
            *_evidence_sections(request.evidence)]


_VERDICTS = {
    Decision.APPROVE: (":white_check_mark:", "Approved"),
    Decision.REJECT: (":no_entry:", "Rejected"),
    Decision.TIMEOUT: (":hourglass:", "Timed out"),
}


def decision_line(record: GateDecisionRecord) -> str:
    """One line saying who decided what, via which channel, when (UTC)."""
    icon, verdict = _VERDICTS[Decision(record.decision)]
    if record.decision == Decision.TIMEOUT:
        line = f"{icon} *{verdict}* at {_when(record.at)}"
    else:
        who = f"<@{record.approver}>" if record.channel == Channel.SLACK else record.approver
        line = f"{icon} *{verdict}* by {who} via {record.channel} at {_when(record.at)}"
    return line + (f": {record.comment}" if record.comment else "")


def _nightly_line(row: Mapping[str, object]) -> str:
    icon = ":white_check_mark:" if row.get("passed", False) else ":x:"
    extras = ", ".join(
        f"{key} {format_value(value)}" for key, value in row.items() if key not in {"component", "passed"}
    )
    return f"{icon} *{row.get('component', '?')}*" + (f": {extras}" if extras else "")


def _evidence_sections(evidence: Mapping[str, object]) -> Blocks:
    items = list(evidence_items(evidence))
    shown, hidden = items[:_MAX_EVIDENCE_FIELDS], len(items) - _MAX_EVIDENCE_FIELDS
    fields = [_mrkdwn(_cut(f"*{key}*\n{_field_value(value)}")) for key, value in shown]
    sections: Blocks = [
        {"type": "section", "fields": fields[i : i + _FIELDS_PER_SECTION]}
        for i in range(0, len(fields), _FIELDS_PER_SECTION)
    ]
    if hidden > 0:
        sections.append(_context(f"and {hidden} more numbers in the run's artifacts"))
    return sections


def _field_value(value: object) -> str:
    """A value in a message field: a URL as a link, a list one item per line (one trigger per line)."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return f"<{value}|{value.rstrip('/').rsplit('/', 1)[-1] or value}>"
    if isinstance(value, list | tuple):
        return "\n".join(_field_value(item) for item in value) or "n/a"
    return format_value(value)


def evidence_items(mapping: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, object]]:
    """``(dotted.key, value)`` pairs of a nested evidence mapping, in insertion order."""
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from evidence_items(value, prefix=f"{name}.")
        else:
            yield name, value


def format_value(value: object) -> str:
    """A number or value as shown to people: 6 significant digits, yes/no, n/a for None and NaN."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "n/a"}[value]
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item) for item in value)
    return str(value)


def _when(at: datetime) -> str:
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cut(text: str, limit: int = _FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(_cut(text, _HEADER_CHARS))}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_cut(text))}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(_cut(text))]}
