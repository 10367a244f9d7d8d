"""Markdown shown to people: a gate's resume-form description and the runbook log artifact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runbook.domain.gates import GateRequest

__all__ = ["evidence_table", "format_value", "gate_description", "outcome_markdown"]


def _href(target: str) -> str:
    """A link target: URLs as they are, local files as file:// URLs."""
    return target if "://" in target else f"file://{target}"


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


def evidence_table(evidence: Mapping[str, Any]) -> str:
    """A two-column markdown table of the evidence."""
    rows = [f"| {key} | {format_value(value)} |" for key, value in evidence.items()]
    return "\n".join(["| evidence | value |", "|---|---|", *rows])


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
    lines = [
        f"## {request.title}",
        "",
        f"**{request.component}**, phase **{request.phase}**. Every automated check passed; "
        f"this gate needs {who} (allowed: {allowed}).",
        "",
        evidence_table(request.evidence),
        "",
        f"Gate key: `{request.gate_key}`",
        f"Also: `runbook approve {request.flow_run_id} --gate {request.gate_key} --as <you>` "
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
    shown = [f"[{name}]({_href(target)})" for name, target in (links or {}).items() if target]
    if shown:
        lines += ["", " | ".join(shown)]
    lines += ["", "| step | result | detail |", "|---|---|---|"]
    for step in steps:
        lines.append(
            f"| {format_value(step.get('step'))} | {format_value(step.get('result'))} "
            f"| {format_value(step.get('detail'))} |"
        )
    return "\n".join(lines)
