"""The plain result of running one suite: what failed, on which rows, and what could not be evaluated."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runbook.errors import ValidationFailed

__all__ = ["ExpectationError", "ExpectationFailure", "QualityResult", "QualityStatus", "plain"]


class QualityStatus(StrEnum):
    """``passed``: no critical failure; ``failed``: the data broke a critical expectation;
    ``errored``: an expectation could not be evaluated (a metric raised), so nothing is known."""

    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"


@dataclass(frozen=True, slots=True)
class ExpectationFailure:
    """One expectation the data did not meet.

    ``unexpected_count`` and ``unexpected_percent`` (0-100, of non-missing rows) are None for
    table-level checks, which report ``observed`` instead (a row count, the missing set members).
    ``sample_ids`` are the id-column values of up to ``sample_size`` offending rows, and
    ``sample_rows`` those rows' checked values.
    """

    expectation_type: str
    column: str | None
    severity: str
    unexpected_count: int | None
    unexpected_percent: float | None
    sample_ids: tuple[str, ...]
    sample_rows: tuple[Mapping[str, Any], ...]
    observed: Any
    kwargs: Mapping[str, Any]
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation_type": self.expectation_type, "column": self.column, "severity": self.severity,
            "unexpected_count": self.unexpected_count, "unexpected_percent": self.unexpected_percent,
            "sample_ids": list(self.sample_ids), "sample_rows": [dict(r) for r in self.sample_rows],
            "observed": self.observed, "kwargs": dict(self.kwargs), "why": self.why,
        }

    def describe(self) -> str:
        """One line: ``expect_x on col: 3 rows (0.06%), e.g. a, b``."""
        target = f" on {self.column}" if self.column else ""
        if self.unexpected_count is None:
            return f"{self.expectation_type}{target}: observed {self.observed!r}"
        share = f" ({self.unexpected_percent:.3g}%)" if self.unexpected_percent is not None else ""
        sample = f", e.g. {', '.join(self.sample_ids)}" if self.sample_ids else ""
        rows = "row" if self.unexpected_count == 1 else "rows"
        return f"{self.expectation_type}{target}: {self.unexpected_count} {rows}{share}{sample}"


@dataclass(frozen=True, slots=True)
class ExpectationError:
    """An expectation whose metric raised: the data may be fine or not, nobody knows."""

    expectation_type: str
    column: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"expectation_type": self.expectation_type, "column": self.column, "message": self.message}


@dataclass(frozen=True, slots=True)
class QualityResult:
    """The outcome of one suite on one frame.

    ``failures`` are critical expectations the data broke (they fail a gate); ``warnings`` are
    warning- or info-severity ones (reported, never failing); ``errors`` are expectations that
    could not be evaluated (status ``errored``, which fails a gate too, for a different reason).
    ``data_docs`` is the Data Docs index page when Data Docs were written.
    """

    suite: str
    source: str
    row_count: int
    evaluated: int
    failures: tuple[ExpectationFailure, ...] = ()
    warnings: tuple[ExpectationFailure, ...] = ()
    errors: tuple[ExpectationError, ...] = ()
    data_docs: Path | None = field(default=None)

    @property
    def status(self) -> QualityStatus:
        if self.errors:
            return QualityStatus.ERRORED
        return QualityStatus.FAILED if self.failures else QualityStatus.PASSED

    @property
    def passed(self) -> bool:
        """True when no critical expectation failed and every expectation was evaluated."""
        return self.status is QualityStatus.PASSED

    def summary(self) -> str:
        """One line, e.g. ``market_history: FAILED, 5,031 rows, 14 expectations, 1 failed, 1 warning``."""
        return (f"{self.suite}: {self.status.upper()}, {self.row_count:,} rows, "
                f"{self.evaluated} expectations, {len(self.failures)} failed, "
                f"{len(self.warnings)} warning(s), {len(self.errors)} errored")

    def raise_for_status(self) -> None:
        """Raise ``ValidationFailed`` (carrying this result) unless the suite passed."""
        if self.passed:
            return
        reasons = [e.describe() for e in self.failures]
        reasons += [f"{e.expectation_type} could not be evaluated: {e.message}" for e in self.errors]
        raise ValidationFailed(f"data quality {self.summary()}: {'; '.join(reasons)}", report=self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (non-finite numbers as the strings ``NaN``, ``inf``, ``-inf``)."""
        return {
            "suite": self.suite, "source": self.source, "status": str(self.status), "passed": self.passed,
            "row_count": self.row_count, "evaluated": self.evaluated,
            "failures": [f.to_dict() for f in self.failures],
            "warnings": [w.to_dict() for w in self.warnings],
            "errors": [e.to_dict() for e in self.errors],
            "data_docs": str(self.data_docs) if self.data_docs else None,
        }

    def markdown(self) -> str:
        """A Markdown section for Prefect artifacts, reports and Slack: summary and one row per finding."""
        lines = [f"### Data quality: `{self.suite}` {self.status.upper()}", "", self.summary() + "."]
        findings = [*self.failures, *self.warnings]
        if findings:
            lines += ["", "| severity | expectation | column | unexpected | sample rows |",
                      "|---|---|---|---|---|"]
            lines += [_markdown_row(f) for f in findings]
        for error in self.errors:
            lines.append(
                f"- could not evaluate `{error.expectation_type}` on `{error.column}`: {error.message}"
            )
        if self.data_docs:
            lines += ["", f"Data Docs: `{self.data_docs}`"]
        return "\n".join(lines)


def _markdown_row(finding: ExpectationFailure) -> str:
    if finding.unexpected_count is None:
        unexpected = f"observed {finding.observed}"
    else:
        unexpected = f"{finding.unexpected_count} ({finding.unexpected_percent or 0:.3g}%)"
    sample = ", ".join(finding.sample_ids)
    return (f"| {finding.severity} | `{finding.expectation_type}` | {finding.column or '(table)'} "
            f"| {unexpected} | {sample} |")


def plain(value: Any) -> Any:
    """A JSON-able copy of a value from a GX result: numpy scalars, timestamps, tuples, NaN, NaT."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, np.datetime64 | datetime | date):
        return _plain_date(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _plain_date(value: np.datetime64 | datetime | date) -> str:
    if pd.isna(value):
        return "NaT"
    if not isinstance(value, datetime) and isinstance(value, date):
        return value.isoformat()
    stamp = pd.Timestamp(value)
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
