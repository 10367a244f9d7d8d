"""Nightly validation (scheduled): re-validate every component still in migration against legacy.

    for each component in shadow, canary or full: offline validation + data-quality suites
    -> one table posted to Slack (or the console) and kept as an artifact
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._steps import quality_checks, validation_check
from runbook.domain.components import catalog_components
from runbook.domain.decisions import decide_checks
from runbook.domain.modes import IN_MIGRATION
from runbook.errors import ValidationFailed
from runbook.orchestration.context import flow_context
from runbook.orchestration.params import ValidationOptions
from tasks.artifacts import publish_nightly
from tasks.control import read_state
from tasks.notify import nightly_result, validation_result
from tasks.quality import check_quality
from tasks.validation import validate_offline


@flow(name="nightly_validation", description="Re-validate each component in shadow, canary or full; post it")
def nightly_validation(validation: ValidationOptions = ValidationOptions()) -> list[dict[str, Any]]:
    """Validate each component in migration; the run fails when any of them fails.

    Args:
        validation: offline validation sizes (ADR: >= 10,000 historical + >= 100,000 Monte Carlo)
    """
    sizes = validation.checked()
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    context = flow_context()
    for component in catalog_components():
        state = read_state(component.value, context=context)
        if state.mode not in IN_MIGRATION:
            continue
        report = validate_offline(component.value, context=context, historical=sizes.historical,
                                  monte_carlo=sizes.monte_carlo, seed=sizes.seed, label="nightly",
                                  market_data=validation.market_data,
                                  portfolios=validation.portfolios, requests=validation.requests)
        quality = [check_quality(suite, frame, context=context,
                                 run=f"nightly validation of {component.value}",
                                 data=f"{component.value} {suite} (validation report {report.report_html})")
                   for suite, frame in report.frames.items()]
        verdict = decide_checks([validation_check(report), *quality_checks(quality)])
        passed = not verdict.stops
        row = {"component": component.value, "mode": state.mode.value,
               "traffic_percent": state.traffic_percent, "passed": passed, "failed_check": verdict.check,
               "detail": verdict.reason, "report": report.report_url or report.report_html}
        if not passed:
            validation_result(component.value, context=context, passed=False, summary=row)
            failed.append(component.value)
        rows.append(row)
    nightly_result(rows, context=context)
    publish_nightly(rows)
    if failed:
        raise ValidationFailed(f"nightly validation failed for {', '.join(failed)}")
    return rows
