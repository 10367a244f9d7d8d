"""Data-quality suites as tasks: runbook.quality.run_suite on a frame, Data Docs under RUNBOOK_HOME."""

from __future__ import annotations

from typing import Any

from runbook.domain.evidence import QualitySummary
from runbook.orchestration.context import PhaseContext, load_settings
from tasks._base import runbook_task


def _run(suite: str, frame: Any) -> QualitySummary:
    from runbook.quality import run_suite

    result = run_suite(suite, frame, data_docs_dir=load_settings().data_docs_dir)
    problems = [failure.describe() for failure in result.failures]
    problems += [f"{e.expectation_type} could not be evaluated: {e.message}" for e in result.errors]
    return QualitySummary(
        suite=result.suite, passed=result.passed, summary=result.summary(), failures=tuple(problems),
        rows=result.row_count, data_docs=str(result.data_docs) if result.data_docs else None,
    )


@runbook_task(name="data-quality")
def check_quality(suite: str, frame: Any) -> QualitySummary:
    """Run ``suite`` on ``frame``; a failing suite fails its gate before any human is asked."""
    return _run(suite, frame)


@runbook_task(name="data-quality-observations")
def check_observations(
    suite: str, component: str, *, context: PhaseContext, since: float, mode: str
) -> QualitySummary:
    """Run ``suite`` (shadow_comparisons, canary_window) on ``component``'s observations since ``since``.

    ``since`` is a Unix timestamp in seconds; only observations made in ``mode`` count.
    """
    from runbook.control.observations import ObservationStore
    from runbook.quality.frames import observations_frame

    rows = ObservationStore(context.store).window(component, since=since, mode=mode)
    return _run(suite, observations_frame(rows))


@runbook_task(name="market-history-quality")
def check_market_history() -> QualitySummary:
    """Run the ``market_history`` suite on the bundled real market history."""
    from runbook.scenarios.loader import load_market_history

    return _run("market_history", load_market_history().frame())


@runbook_task(name="check-expectations")
def check_expectations() -> dict[str, int]:
    """Every bundled suite loads, with how many expectations each holds (a dropped one shows here)."""
    from runbook.quality import SUITES, load_suite

    return {name: len(load_suite(name).expectations) for name in SUITES}
