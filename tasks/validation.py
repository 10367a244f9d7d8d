"""Offline validation as a task: FinancialCalculationValidator on both engines, report written to disk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runbook.domain.evidence import CheckView, ValidationSummary
from runbook.orchestration.artifacts import artifact_key, progress_reporter
from runbook.orchestration.context import load_settings
from tasks._base import runbook_task


@runbook_task(name="validate-offline")
def validate_offline(
    component: str, *, historical: int, monte_carlo: int, seed: int = 0, fault: str | None = None,
    label: str = "shadow",
) -> ValidationSummary:
    """Validate the candidate against legacy on ``historical`` + ``monte_carlo`` scenarios.

    Writes ``report.json`` and ``report.html`` under ``<RUNBOOK_HOME>/reports/<component>/``;
    returns the verdict, the checks, the report paths and the frames the data-quality suites read.
    A progress artifact follows the validation in the Prefect UI.
    """
    from runbook.engines.registry import load_pair
    from runbook.validation import FinancialCalculationValidator

    settings = load_settings()
    pair = load_pair(component, engines_config=settings.engines, fault=fault)
    progress = progress_reporter(artifact_key("validation-progress", component, label),
                                 description=f"offline validation of {component}")
    report = FinancialCalculationValidator().validate_component(
        component, pair, historical=historical, monte_carlo=monte_carlo, seed=seed, progress=progress
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    paths = report.write(settings.reports_dir / component / f"{stamp}-{label}")
    return ValidationSummary(
        component=component, passed=report.passed, verdict=report.verdict, historical=historical,
        monte_carlo=monte_carlo, fault=fault,
        failed_checks=tuple(f"{check.name}: {check.detail}" for check in report.failed_checks),
        checks=tuple(CheckView(c.name, c.passed, c.outcome, c.detail) for c in report.checks),
        summary=report.to_dict().get("summary", {}),
        report_html=str(paths["html"]), report_json=str(paths["json"]),
        frames={"scenarios": report.scenarios_frame(), "engine_outputs": report.outputs_frame()},
    )


@runbook_task(name="check-engines")
def check_engines(component: str) -> dict[str, Any]:
    """Both engines of ``component`` import and fit the component's protocol."""
    from runbook.engines.registry import load_pair

    return load_pair(component, engines_config=load_settings().engines).describe()
