"""Tasks that tell people: Slack when configured, else the console and the run log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runbook.domain.evidence import NotifierCheck
from runbook.orchestration.context import PhaseContext
from tasks._base import runbook_task


@runbook_task(name="notify-validation")
def validation_result(
    component: str, *, context: PhaseContext, passed: bool, summary: Mapping[str, Any]
) -> None:
    """Post a validation result (failed validations alert the team)."""
    context.notifier.validation_result(component, passed=passed, summary=summary)


@runbook_task(name="notify-nightly")
def nightly_result(rows: Sequence[Mapping[str, Any]], *, context: PhaseContext) -> None:
    """Post the nightly validation table."""
    context.notifier.nightly_result(rows)


@runbook_task(name="notify-rollback")
def rollback_alert(
    component: str, *, context: PhaseContext, reason: str, evidence: Mapping[str, Any], automatic: bool
) -> None:
    """Alert the team about a rollback."""
    context.notifier.rollback_alert(component, reason=reason, evidence=evidence, automatic=automatic)


@runbook_task(name="check-notifier")
def check_notifier(*, context: PhaseContext) -> NotifierCheck:
    """Slack answers ``auth.test`` when configured; otherwise messages go to the console."""
    from runbook.slack.client import check_auth, client_from_settings

    client = client_from_settings(context.settings)
    if client is None:
        return NotifierCheck("console", True, "Slack not configured: console and run log")
    auth = check_auth(client)
    return NotifierCheck("slack", auth.ok, auth.error or f"{auth.team} as {auth.user}")
