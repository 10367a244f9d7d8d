"""Offline validation as a task: FinancialCalculationValidator on both engines, report written to disk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from runbook.domain.evidence import CheckView, EnginesCheck, ValidationSummary
from runbook.orchestration.artifacts import artifact_key, progress_reporter
from runbook.orchestration.context import PhaseContext
from runbook.reports.links import evidence_url
from tasks._base import runbook_task


@runbook_task(name="validate-offline")
def validate_offline(
    component: str, *, context: PhaseContext, historical: int, monte_carlo: int, seed: int = 0,
    fault: str | None = None,
    label: str = "shadow", market_data: str | None = None, portfolios: str | None = None,
    requests: str | None = None,
) -> ValidationSummary:
    """Validate the candidate against legacy on ``historical`` + ``monte_carlo`` scenarios, or, for a
    catalog component or when request sources are given, through the single-request callables on
    the firm's requests (``market_data`` + ``portfolios``, or a ``requests`` file); there at most
    1,000 of the ``monte_carlo`` windows are simulated (each one is a call of both engines).

    Writes ``report.json`` and ``report.html`` under ``<RUNBOOK_HOME>/reports/<component>/``;
    returns the verdict, the checks, the report paths and the frames the data-quality suites read
    (none on the requests path: its suites are the catalog's result check and tolerances).
    A progress artifact follows the validation in the Prefect UI.
    """
    from runbook.domain.catalog import entry_of
    from runbook.engines.registry import load_pair
    from runbook.quality.market_check import market_data_quality
    from runbook.validation.catalog_validation import (
        MONTE_CARLO_REQUESTS,
        Sources,
        pair_engines,
        validate_catalog_component,
    )

    settings = context.settings
    sources = Sources(market_data, portfolios, requests)
    bundled = entry_of(component).bundled
    pair = load_pair(component, engines_config=settings.engines, fault=fault)
    if not bundled or sources.given:
        engines = pair_engines(pair) if bundled else None
        report = validate_catalog_component(component, sources, count=historical, seed=seed, engines=engines,
                                            monte_carlo=min(monte_carlo, MONTE_CARLO_REQUESTS),
                                            data_quality=market_data_quality)
    else:
        progress = progress_reporter(artifact_key("validation-progress", component, label),
                                     description=f"offline validation of {component}")
        with _validator(settings.dask_address) as validator:
            report = validator.validate_component(
                component, pair, historical=historical, monte_carlo=monte_carlo, seed=seed, progress=progress
            )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    paths = report.write(settings.reports_dir / component / f"{stamp}-{label}")
    frames = {} if report.outputs == () else {"scenarios": report.scenarios_frame(),
                                              "engine_outputs": report.outputs_frame()}
    return ValidationSummary(
        component=component, passed=report.passed, verdict=report.verdict, historical=historical,
        monte_carlo=monte_carlo, fault=fault,
        failed_checks=tuple(f"{check.name}: {check.detail}" for check in report.failed_checks),
        checks=tuple(CheckView(c.name, c.passed, c.outcome, c.detail) for c in report.checks),
        summary={**report.to_dict().get("summary", {}), "data": report.data, "engines": report.engines},
        report_html=str(paths["html"]), report_json=str(paths["json"]),
        report_url=evidence_url(paths["html"], home=settings.home, base_url=settings.reports_url) or "",
        frames=frames,
    )


@contextmanager
def _validator(dask_address: str | None) -> Iterator[Any]:
    """Partitions on the dask scheduler at RUNBOOK_DASK_ADDRESS when set, else in the flow's process."""
    from runbook.validation import FinancialCalculationValidator

    if not dask_address:
        yield FinancialCalculationValidator()
        return
    from runbook.validation.distributed import PartitionedValidator, dask_runner

    with dask_runner(address=dask_address) as runner:
        yield PartitionedValidator(runner)


@runbook_task(name="check-engines")
def check_engines(component: str, *, context: PhaseContext) -> EnginesCheck:
    """Both engines of ``component`` import and fit the component's protocol (catalog: import)."""
    from runbook.engines.registry import load_pair

    described = load_pair(component, engines_config=context.settings.engines).describe()
    return EnginesCheck(component, str(described["legacy"]), str(described["candidate"]), described["fault"])
