"""The notifier used when Slack is not configured: stdout (rich) and the Prefect run log.

Gates are then decided in the Prefect UI or with the CLI; the message says so.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC

from rich.console import Console
from rich.text import Text

from runbook.domain.gates import GateDecisionRecord, GateRequest
from runbook.slack.blocks import evidence_items, format_value

__all__ = ["ConsoleNotifier"]

log = logging.getLogger(__name__)


class ConsoleNotifier:
    """Prints every notification; returns None where Slack would return ``(channel, ts)``."""

    def __init__(self, *, console: Console | None = None) -> None:
        self._console = console or Console(highlight=False, soft_wrap=True)

    def gate_requested(self, request: GateRequest, *, run_url: str) -> tuple[str, str] | None:
        self._emit(
            f"Gate waiting: {request.title} ({request.component}, {request.phase}, "
            f"{request.policy.required_approvals} approval(s) needed)",
            [*_evidence_lines(request.evidence), f"gate key: {request.gate_key}",
             _where_to_decide(request, run_url)],
            style="bold",
        )
        return None

    def gate_decided(self, request: GateRequest, decision_records: Sequence[GateDecisionRecord]) -> None:
        self._emit(f"Gate decided: {request.title} ({request.gate_key})",
                   [_decision_text(record) for record in decision_records], style="bold")

    def gate_superseded(self, request: GateRequest, reason: str) -> None:
        self._emit(f"Gate answer refused: {request.title} ({request.gate_key})",
                   [reason, "the gate asks again under a new key"], style="bold yellow",
                   level=logging.WARNING)

    def rollback_alert(
        self, component: str, *, reason: str, evidence: Mapping[str, object], automatic: bool,
        kind: str | None = None,
    ) -> None:
        kind = kind or ("Automatic rollback" if automatic else "Emergency rollback")
        self._emit(f"{kind}: {component} serves legacy. Reason: {reason}", _evidence_lines(evidence),
                   style="bold red", level=logging.WARNING)

    def validation_result(self, component: str, *, passed: bool, summary: Mapping[str, object]) -> None:
        verdict = "passed" if passed else "FAILED"
        self._emit(f"Validation {verdict}: {component}", _evidence_lines(summary),
                   style="green" if passed else "bold red", level=logging.INFO if passed else logging.WARNING)

    def nightly_result(self, rows: Sequence[Mapping[str, object]]) -> None:
        lines = [f"{'ok  ' if row.get('passed') else 'FAIL'} {row.get('component', '?')}" for row in rows]
        self._emit("Nightly validation", lines or ["no component in migration"], style="bold")

    def run_update(self, flow_run_id: str, text: str) -> None:
        self._emit(f"run {flow_run_id[:8]}: {text}", [])

    def _emit(
        self, headline: str, lines: Sequence[str], *, style: str = "", level: int = logging.INFO
    ) -> None:
        # Text objects, not markup: user strings such as "[x]" must print as they are.
        message = Text(headline, style=style)
        for line in lines:
            message.append("\n  " + line)
        try:
            self._console.print(message)
        except Exception:  # a closed or odd stdout must not fail a flow
            log.debug("console print failed", exc_info=True)
        run_logger = _run_logger()
        if run_logger is not None:
            run_logger.log(level, message.plain)


def _evidence_lines(evidence: Mapping[str, object]) -> list[str]:
    return [f"{key}: {format_value(value)}" for key, value in evidence_items(evidence)]


def _decision_text(record: GateDecisionRecord) -> str:
    at = record.at if record.at.tzinfo else record.at.replace(tzinfo=UTC)
    when = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"{record.decision} by {record.approver} via {record.channel} at {when}"
    return text + (f": {record.comment}" if record.comment else "")


def _run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger] | None:
    """The Prefect run logger when called inside a flow or task run, else None.

    Prefect is only consulted if something already imported it: a process without Prefect
    (or outside any run) prints to stdout only.
    """
    if "prefect" not in sys.modules:
        return None
    try:
        from prefect.context import FlowRunContext, TaskRunContext
        from prefect.logging import get_run_logger

        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return None
        return get_run_logger()
    except Exception:  # noqa: BLE001 - Prefect's logger is optional; stdout always gets the line
        return None


def _where_to_decide(request: GateRequest, run_url: str) -> str:
    cli = f"runbook approve {request.flow_run_id} --gate {request.gate_key}"
    if request.policy.verified_only:  # typed names (the UI's form, --as) do not count here
        return (f"decide verified: `{cli} --sign-with ~/.ssh/id_ed25519` (or `runbook reject ...`), "
                "or from Slack")
    if run_url:
        return f"decide in the Prefect UI ({run_url}) or with `{cli}`"
    return f"decide with `{cli}` (or `runbook reject ...`); `runbook up` starts a Prefect UI"
