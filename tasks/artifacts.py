"""Artifacts in the Prefect UI: the validation summary table and the canary health per step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runbook.domain.evidence import ValidationSummary
from runbook.orchestration.artifacts import artifact_key, publish_markdown, publish_table
from runbook.orchestration.context import PhaseContext
from tasks._base import runbook_task


@runbook_task(name="publish-validation")
def publish_validation(report: ValidationSummary) -> None:
    """A table of every validation check (passed, detail) and a link to the HTML report."""
    rows = [{"check": c.check, "passed": c.passed, "detail": c.detail} for c in report.checks]
    verdict = "passed" if report.passed else "FAILED"
    description = (f"offline validation of {report.component}: {verdict}; "
                   f"report {report.report_url or report.report_html}")
    publish_table(artifact_key("validation", report.component), rows, description=description)


@runbook_task(name="publish-step-health")
def publish_step_health(component: str, phase: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """A table of the traffic steps so far: percent, monitor verdict, calls, gate."""
    publish_table(artifact_key("canary-health", component, phase), rows,
                  description=f"{phase} of {component}: health per traffic step")


@runbook_task(name="publish-summary")
def publish_summary(key: str, markdown: str, *, description: str) -> None:
    """A markdown summary (nightly validation, migration)."""
    publish_markdown(artifact_key(key), markdown, description=description)


@runbook_task(name="write-report")
def write_report(
    components: list[str], *, context: PhaseContext, title: str,
    summary: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Write the HTML migration report of ``components`` under RUNBOOK_HOME/reports; its path."""
    from datetime import UTC, datetime

    from runbook.reports.migration import write_migration_report

    settings = context.settings
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = components[0] if len(components) == 1 else "migration"
    path = settings.reports_dir / name / f"{stamp}-migration-report.html"
    written = write_migration_report(context.store, path, title=title, components=components,
                                     summary=summary or ())
    return str(written.resolve())


@runbook_task(name="publish-nightly")
def publish_nightly(rows: Sequence[Mapping[str, Any]]) -> None:
    """The nightly validation table (one row per component in migration)."""
    empty = [{"component": "-", "passed": "nothing in migration"}]
    publish_table(artifact_key("nightly-validation"), rows or empty,
                  description="nightly validation of every component in shadow, canary or full")


@runbook_task(name="publish-monitor")
def publish_monitor(rows: Sequence[Mapping[str, Any]]) -> None:
    """The monitor's verdict per live component."""
    empty = [{"component": "-", "verdict": "nothing live"}]
    publish_table(artifact_key("auto-rollback-monitor"), rows or empty,
                  description="AutoRollbackMonitor verdicts")


@runbook_task(name="publish-migration")
def publish_migration(rows: Sequence[Mapping[str, Any]]) -> None:
    """The migration table: per component, how far it got and what stopped it."""
    publish_table(artifact_key("migration"), rows, description="migration progress per component")
