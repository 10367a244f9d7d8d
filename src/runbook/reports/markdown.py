"""Markdown shown to people: a gate's resume-form description and the runbook log artifact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runbook.domain.gates import GateRequest
from runbook.reports.links import is_url

__all__ = ["evidence_lines", "evidence_table", "format_value", "gate_description", "outcome_markdown"]


def _link(name: str, target: str) -> str:
    """A markdown link for a URL; anything else (a server path a browser cannot open) as code."""
    return f"[{name}]({target})" if is_url(target) else f"{name}: `{target}`"


def _label(url: str) -> str:
    """A short name for a link: the last part of its path."""
    return url.rstrip("/").rsplit("/", 1)[-1] or url


def format_value(value: Any) -> str:
    """A compact, readable rendering of one evidence value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}={format_value(v)}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value).replace("|", "/").replace("\n", " ")


def _cell(value: Any) -> str:
    if is_url(value):
        return f"[{_label(value)}]({value})"
    if isinstance(value, Mapping) and value and all(is_url(v) for v in value.values()):
        return ", ".join(f"[{k}]({v})" for k, v in value.items())
    return format_value(value)


def evidence_table(evidence: Mapping[str, Any]) -> str:
    """A two-column markdown table of the evidence's single values; URLs as links.

    Lists (the monitor's verdict and its checks) are left to ``evidence_lines``.
    """
    rows = [f"| {key} | {_cell(value)} |" for key, value in evidence.items() if not _is_lines(value)]
    return "\n".join(["| evidence | value |", "|---|---|", *rows])


def evidence_lines(evidence: Mapping[str, Any]) -> str:
    """Each list in the evidence as its own paragraph, one item per line (one trigger per line)."""
    blocks = []
    for key, value in evidence.items():
        if _is_lines(value):
            items = [f"- {format_value(item)}" for item in value] or ["- (none)"]
            blocks.append("\n".join([f"**{key}**", "", *items]))
    return "\n\n".join(blocks)


def _is_lines(value: Any) -> bool:
    return isinstance(value, list | tuple)


def gate_description(request: GateRequest, run_url: str) -> str:
    """What the Prefect UI's resume form shows above the approve/reject fields."""
    policy = request.policy
    who = (
        f"{policy.required_approvals} different approvers"
        + (", not the run's initiator" if policy.forbid_initiator and request.initiator else "")
        if policy.required_approvals > 1
        else "one approver"
    )
    allowed = ", ".join(sorted(policy.allowed_approvers)) or "anyone"
    identity = "--sign-with ~/.ssh/id_ed25519" if policy.verified_only else "--as <you>"
    lines = [
        f"## {request.title}",
        "",
        f"**{request.component}**, phase **{request.phase}**. Every automated check passed; "
        f"this gate needs {who} (allowed: {allowed}).",
        "",
        evidence_table(request.evidence),
        "",
        *([listed, ""] if (listed := evidence_lines(request.evidence)) else []),
        f"Gate key: `{request.gate_key}`",
        f"Also: `runbook approve {request.flow_run_id} --gate {request.gate_key} {identity}` "
        f"or `runbook reject ...`, or the Slack message.",
    ]
    if request.expires_at is not None:
        expires = request.expires_at.isoformat(timespec="seconds")
        lines.append(f"Times out at {expires} (nothing is promoted).")
    if run_url:
        lines.append(f"[Flow run]({run_url})")
    return "\n".join(lines)


def outcome_markdown(
    *, component: str, phase: str, status: str, check: str, reason: str, steps: Iterable[Mapping[str, Any]],
    links: Mapping[str, str] | None = None,
) -> str:
    """The phase's runbook log: what ran, what it found, how it ended, with links (run, reports)."""
    lines = [f"# {phase}: {component}", "", f"**Outcome: {status}**"]
    if check:
        lines.append(f"Stopped by **{check}**: {reason}")
    shown = [_link(name, target) for name, target in (links or {}).items() if target]
    if shown:
        lines += ["", " | ".join(shown)]
    lines += ["", "| step | result | detail |", "|---|---|---|"]
    for step in steps:
        lines.append(
            f"| {format_value(step.get('step'))} | {format_value(step.get('result'))} "
            f"| {format_value(step.get('detail'))} |"
        )
    return "\n".join(lines)
