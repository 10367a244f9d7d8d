"""Run one suite on a pandas frame in an ephemeral Great Expectations context.

Great Expectations is imported inside the functions that need it (it takes seconds to import).
Each run builds its own ephemeral context (a few milliseconds once GX is imported), so runs share
no state; with ``data_docs_dir`` each run writes a self-contained Data Docs page there (named after
the run and the data checked) and the index lists every run written there (``runbook.quality._docs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.errors import BadInputData
from runbook.quality._docs import DocRow, RunNames, write_docs
from runbook.quality._result import ExpectationError, ExpectationFailure, QualityResult, plain
from runbook.quality._suite import Suite, check_loaded, for_columns, load_suite, to_gx_suite
from runbook.quality.frames import as_dates, derive_column

__all__ = ["DEFAULT_SAMPLE_SIZE", "RunNames", "prepare_frame", "run_suite"]

DEFAULT_SAMPLE_SIZE = 10


def run_suite(
    suite: str | Path | Suite,
    frame: pd.DataFrame,
    *,
    data_docs_dir: Path | None = None,
    names: RunNames | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    date_column: str = "date",
) -> QualityResult:
    """Validate ``frame`` against a suite (bundled name, JSON path or loaded ``Suite``).

    Returns a ``QualityResult``: passed when no critical expectation failed and every expectation
    could be evaluated; up to ``sample_size`` offending row ids per failed expectation. Writes
    a Data Docs page (HTML) under ``data_docs_dir`` when given, named by ``names`` (the run and the
    data checked; by default the suite and "a data frame"). Raises ``BadSuite`` for a bad suite file
    and ``BadInputData`` when the frame lacks a column the suite reads. A template suite
    (``market_prices``) is built for the frame's columns: ``date_column`` and one price column per
    asset (every other column).
    """
    loaded = suite if isinstance(suite, Suite) else load_suite(suite)
    if loaded.is_template:
        frame, loaded = _for_frame(loaded, frame, date_column)
    prepared = prepare_frame(loaded, frame)
    names = names or RunNames(run=f"{loaded.name} check", data_asset="a data frame")
    validation = _validate(loaded, prepared, names=names, sample_size=sample_size)
    failures: list[ExpectationFailure] = []
    warnings: list[ExpectationFailure] = []
    errors: list[ExpectationError] = []
    for gx_result in sorted(validation.results, key=_position):
        outcome = _outcome(loaded, gx_result)
        if isinstance(outcome, ExpectationError):
            errors.append(outcome)
        elif outcome is not None:
            (failures if outcome.severity == "critical" else warnings).append(outcome)
    result = QualityResult(
        suite=loaded.name,
        source=str(loaded.source),
        row_count=len(prepared),
        evaluated=len(validation.results),
        failures=tuple(failures),
        warnings=tuple(warnings),
        errors=tuple(errors),
    )
    if data_docs_dir is None:
        return result
    rows = [_doc_row(loaded, gx_result) for gx_result in sorted(validation.results, key=_position)]
    page = write_docs(Path(data_docs_dir), suite=loaded.name, names=names, status=result.status.value,
                      rows_checked=result.row_count, rows=rows)
    return replace(result, data_docs=page)


def _for_frame(suite: Suite, frame: pd.DataFrame, date_column: str) -> tuple[pd.DataFrame, Suite]:
    if not isinstance(frame, pd.DataFrame):
        raise BadInputData(f"suite {suite.name!r} checks a pandas DataFrame, not {type(frame).__name__}")
    if date_column not in frame.columns:
        raise BadInputData(f"frame for suite {suite.name!r} has no date column {date_column!r}; it has: "
                           f"{', '.join(map(str, frame.columns)) or '(none)'}")
    frame = frame.assign(**{date_column: as_dates(frame[date_column])})
    return frame, for_columns(suite, list(frame.columns), date_column=date_column)


def prepare_frame(suite: Suite, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with a plain row index and the suite's derived columns added.

    Raises ``BadInputData`` naming the missing columns when the frame lacks one the suite reads.
    """
    if not isinstance(frame, pd.DataFrame):
        raise BadInputData(f"suite {suite.name!r} checks a pandas DataFrame, not {type(frame).__name__}")
    if suite.id_column not in frame.columns and suite.id_column in frame.index.names:
        frame = frame.reset_index()
    prepared = frame.reset_index(drop=True)
    missing = [column for column in suite.required_columns if column not in prepared.columns]
    if missing:
        raise BadInputData(
            f"frame for suite {suite.name!r} lacks column(s) {', '.join(missing)}; "
            f"it has: {', '.join(map(str, prepared.columns)) or '(none)'}{_hint(suite)}"
        )
    for derived in suite.derived_columns:
        prepared[derived.name] = derive_column(prepared, op=derived.op, column=derived.column)
    return prepared


def _hint(suite: Suite) -> str:
    if suite.name != "market_history":
        return ""
    return ("; market_history is the bundled set's suite: a price file with a date column and one price "
            "column per asset is checked by suite market_prices")


def _validate(suite: Suite, frame: pd.DataFrame, *, names: RunNames, sample_size: int) -> Any:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx.get_context(mode="ephemeral", project_config=_project_config())
    gx_suite = context.suites.add_or_update(to_gx_suite(suite))
    # The store is a second place where an expectation could vanish: count again after adding.
    check_loaded(suite, [expectation.expectation_type for expectation in gx_suite.expectations])
    batch = (
        context.data_sources.add_pandas("runbook")
        .add_dataframe_asset(names.data_asset)
        .add_batch_definition_whole_dataframe("whole")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
    )
    result_format = {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": [suite.id_column],
        "partial_unexpected_count": sample_size,
    }
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], actions=[],
                      result_format=result_format)
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=names.run))
    (validation,) = outcome.run_results.values()
    return validation


def _project_config() -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    return DataContextConfig(
        stores=dict(defaults.stores),
        expectations_store_name=defaults.expectations_store_name,
        validation_results_store_name=defaults.validation_results_store_name,
        checkpoint_store_name=defaults.checkpoint_store_name,
        data_docs_sites={},  # pages are written by runbook.quality._docs (GX's site needs CDNs)
        analytics_enabled=False,
        # Progress bars would write to stderr of every flow run and CLI call.
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )


def _doc_row(suite: Suite, gx_result: Any) -> DocRow:
    """One expectation's line on the Data Docs page, from its GX result."""
    spec = suite.expectations[_position(gx_result) - 1]
    outcome = _outcome(suite, gx_result)
    details: Mapping[str, Any] = gx_result.result or {}
    if isinstance(outcome, ExpectationError):
        word, observed = "errored", outcome.message
    elif isinstance(outcome, ExpectationFailure):
        word = "failed" if outcome.severity == "critical" else "warning"
        observed = outcome.describe().partition(": ")[2]
    else:
        word, observed = "passed", _observed_text(details)
    kwargs = ", ".join(f"{k}={v}" for k, v in spec.kwargs.items() if k != "column")
    return DocRow(position=spec.position, expectation=spec.type, column=spec.label or "(table)",
                  severity=spec.severity, outcome=word, observed=observed, kwargs=kwargs)


def _observed_text(details: Mapping[str, Any]) -> str:
    """What a met expectation saw: its observed value, else no unexpected rows of how many."""
    observed = details.get("observed_value")
    if observed is not None:
        return str(plain(observed))
    if details.get("element_count") is not None:
        return f"0 unexpected of {int(details['element_count']):,} rows"
    return "met"


def _position(gx_result: Any) -> int:
    """The expectation's 1-based position in the suite file (GX does not keep the file's order)."""
    return int(gx_result.expectation_config.meta["runbook_position"])


def _outcome(suite: Suite, gx_result: Any) -> ExpectationFailure | ExpectationError | None:
    spec = suite.expectations[_position(gx_result) - 1]
    messages = _raised_messages(gx_result.exception_info or {})
    if messages:
        return ExpectationError(expectation_type=spec.type, column=spec.label, message=messages[0])
    if gx_result.success:
        return None
    details: Mapping[str, Any] = gx_result.result or {}
    rows = [_id_first(plain(row), suite.id_column)
            for row in details.get("partial_unexpected_index_list") or [] if isinstance(row, Mapping)]
    observed = details.get("observed_value")
    if observed is None and details.get("partial_missing_list"):
        observed = {"missing": details["partial_missing_list"]}
    count = details.get("unexpected_count")
    return ExpectationFailure(
        expectation_type=spec.type,
        column=spec.label,
        severity=spec.severity,
        unexpected_count=None if count is None else int(count),
        unexpected_percent=plain(details.get("unexpected_percent")),
        sample_ids=tuple(str(row.get(suite.id_column)) for row in rows),
        sample_rows=tuple(rows),
        observed=plain(observed),
        kwargs=dict(spec.kwargs),
        why=str(spec.meta.get("why", "")),
    )


def _id_first(row: dict[str, Any], id_column: str) -> dict[str, Any]:
    return {id_column: row.get(id_column), **{k: v for k, v in row.items() if k != id_column}}


def _raised_messages(info: Mapping[str, Any]) -> list[str]:
    """Messages of raised exceptions; GX nests them by metric id when a metric (not the check) raised."""
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    return [str(e.get("exception_message") or "exception without a message")
            for e in entries if e.get("raised_exception")]
