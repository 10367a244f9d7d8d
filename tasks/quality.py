"""Data-quality suites as tasks: runbook.quality.run_suite on a frame, Data Docs under RUNBOOK_HOME."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runbook.domain.evidence import ExpectationsCheck, QualitySummary
from runbook.orchestration.context import PhaseContext
from runbook.reports.links import evidence_url
from tasks._base import runbook_task


def _run(suite: str, frame: Any, context: PhaseContext, *, run: str, data: str) -> QualitySummary:
    from runbook.quality import RunNames, run_suite

    settings = context.settings
    result = run_suite(suite, frame, data_docs_dir=settings.data_docs_dir, names=RunNames(run, data))
    problems = [failure.describe() for failure in result.failures]
    problems += [f"{e.expectation_type} could not be evaluated: {e.message}" for e in result.errors]
    page = result.data_docs
    docs = evidence_url(page, home=settings.home, base_url=settings.reports_url)
    docs = docs or (str(page) if page else None)
    return QualitySummary(
        suite=result.suite, passed=result.passed, summary=result.summary(), failures=tuple(problems),
        rows=result.row_count, data_docs=docs,
    )


@runbook_task(name="data-quality")
def check_quality(suite: str, frame: Any, *, context: PhaseContext, run: str, data: str) -> QualitySummary:
    """Run ``suite`` on ``frame``; a failing suite fails its gate before any human is asked.

    ``run`` names the run that checks (``shadow of var_engine, run small-pheasant``) and ``data``
    the data checked, on the Data Docs page.
    """
    return _run(suite, frame, context, run=run, data=data)


@runbook_task(name="data-quality-observations")
def check_observations(
    suite: str, component: str, *, context: PhaseContext, since: float, mode: str, run: str = ""
) -> QualitySummary:
    """Run ``suite`` (shadow_comparisons, canary_window) on ``component``'s observations since ``since``.

    ``since`` is a Unix timestamp in seconds; only observations made in ``mode`` count.
    """
    from runbook.control.observations import ObservationStore
    from runbook.quality.frames import observations_frame

    rows = ObservationStore(context.store).window(component, since=since, mode=mode)
    start = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
    return _run(suite, observations_frame(rows), context, run=run or f"{suite} of {component}",
                data=f"{component} observations in {mode} since {start}")


@runbook_task(name="market-history-quality")
def check_market_history(*, context: PhaseContext) -> QualitySummary:
    """Run the ``market_history`` suite on the bundled real market history."""
    from runbook.scenarios.loader import load_market_history

    return _run("market_history", load_market_history().frame(), context,
                run="readiness: bundled market history",
                data="bundled market history (market_history.csv)")


@runbook_task(name="check-expectations")
def check_expectations() -> ExpectationsCheck:
    """Every bundled suite loads, with how many expectations each holds (a dropped one shows here)."""
    from runbook.quality import SUITES, load_suite

    return ExpectationsCheck(tuple((name, len(load_suite(name).expectations)) for name in SUITES))
