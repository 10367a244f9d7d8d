"""QualityResult: what passes a gate, what is only reported, and how it reads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from runbook.errors import ValidationFailed
from runbook.quality import ExpectationError, ExpectationFailure, QualityResult, QualityStatus
from runbook.quality._result import plain


def _finding(severity: str = "critical", count: int | None = 2) -> ExpectationFailure:
    return ExpectationFailure(
        expectation_type="expect_column_values_to_be_between", column="var", severity=severity,
        unexpected_count=count, unexpected_percent=None if count is None else 0.5,
        sample_ids=("s-7", "s-9") if count else (), sample_rows=({"scenario_id": "s-7", "var": -1.0},),
        observed=None if count else 12, kwargs={"column": "var", "min_value": 0}, why="VaR is a loss.",
    )


def _result(**findings: tuple) -> QualityResult:
    return QualityResult(suite="engine_outputs", source="engine_outputs.json", row_count=400, evaluated=16,
                         **findings)


def test_status_passed_with_warnings_only() -> None:
    """Warning-severity findings are reported but the result passes."""
    result = _result(warnings=(_finding("warning"),))
    assert result.passed
    assert result.status is QualityStatus.PASSED
    result.raise_for_status()


def test_status_failed_on_critical() -> None:
    """One critical finding fails the result and raise_for_status names it, carrying the result."""
    result = _result(failures=(_finding(),))
    assert result.status is QualityStatus.FAILED
    assert not result.passed
    expected = r"expect_column_values_to_be_between on var: 2 rows"
    with pytest.raises(ValidationFailed, match=expected) as caught:
        result.raise_for_status()
    assert caught.value.report is result


def test_status_errored_wins_over_failed() -> None:
    """An expectation that could not be evaluated makes the result errored, even beside failures."""
    error = ExpectationError("expect_column_values_to_be_between", "kind", "cannot compare str and int")
    result = _result(failures=(_finding(),), errors=(error,))
    assert result.status is QualityStatus.ERRORED
    assert not result.passed


def test_describe_table_level_finding() -> None:
    """A table-level finding reports what was observed instead of rows."""
    assert _finding(count=None).describe() == "expect_column_values_to_be_between on var: observed 12"


def test_markdown_lists_findings() -> None:
    """The Markdown section has the status, one table row per finding, sample ids and errors."""
    error = ExpectationError("expect_column_values_to_be_unique", "scenario_id", "boom")
    text = _result(failures=(_finding(),), warnings=(_finding("warning"),), errors=(error,)).markdown()
    assert text.startswith("### Data quality: `engine_outputs` ERRORED")
    assert "| critical | `expect_column_values_to_be_between` | var | 2 (0.5%) | s-7, s-9 |" in text
    assert "| warning |" in text
    assert "could not evaluate `expect_column_values_to_be_unique` on `scenario_id`: boom" in text


def test_to_dict_is_json() -> None:
    """to_dict() is plain JSON with status and every finding."""
    payload = json.loads(json.dumps(_result(failures=(_finding(),)).to_dict(), allow_nan=False))
    assert payload["status"] == "failed"
    assert payload["passed"] is False
    assert payload["failures"][0]["sample_ids"] == ["s-7", "s-9"]


@pytest.mark.parametrize(("value", "expected"), [
    (np.float64(np.nan), "NaN"),
    (np.float64(-np.inf), "-inf"),
    (np.int64(7), 7),
    (pd.Timestamp("2008-10-10"), "2008-10-10"),
    (pd.Timestamp("2008-10-10 15:30"), "2008-10-10T15:30:00"),
    (np.datetime64("2008-10-10T00:00:00.000000000"), "2008-10-10"),
    (pd.NaT, "NaT"),
    ((np.float64(2.0), np.float64(3.0)), [2.0, 3.0]),
    ({"es": np.float64(1.5)}, {"es": 1.5}),
])
def test_plain_values(value: object, expected: object) -> None:
    """Values from GX results become JSON-able: numpy scalars, dates, NaN/inf and NaT as text."""
    assert plain(value) == expected
