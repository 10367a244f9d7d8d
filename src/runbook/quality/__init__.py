"""Data-quality expectations (Great Expectations) on the data every gate consumes.

    from runbook.quality import run_suite
    result = run_suite("market_history", frame, data_docs_dir=settings.data_docs_dir)
    result.passed, result.failures, result.markdown()

The bundled suites (``SUITES``) live in ``runbook/quality/suites/*.json``; the repository's
``expectations/`` folder is the same folder. Great Expectations is imported only when a suite
is loaded or run.
"""

from __future__ import annotations

from runbook.quality._result import ExpectationError, ExpectationFailure, QualityResult, QualityStatus
from runbook.quality._runner import DEFAULT_SAMPLE_SIZE, RunNames, prepare_frame, run_suite
from runbook.quality._suite import (
    SEVERITIES,
    SUITES,
    DerivedColumn,
    ExpectationSpec,
    Suite,
    for_columns,
    load_suite,
    suite_path,
)

__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "SEVERITIES",
    "SUITES",
    "DerivedColumn",
    "ExpectationError",
    "ExpectationFailure",
    "ExpectationSpec",
    "QualityResult",
    "QualityStatus",
    "RunNames",
    "Suite",
    "for_columns",
    "load_suite",
    "prepare_frame",
    "run_suite",
    "suite_path",
]
