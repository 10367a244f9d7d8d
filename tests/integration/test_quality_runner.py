"""The runner with real Great Expectations: refusing bad suite files, telling a crashed metric from a
data failure, samples by id, Data Docs, and silence on the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.errors import BadInputData, BadSuite, ValidationFailed
from runbook.quality import QualityStatus, load_suite, run_suite, suite_path
from runbook.quality._suite import check_loaded


def _write_suite(folder: Path, expectations: list[dict], *, name: str = "custom",
                 id_column: str = "id") -> Path:
    path = folder / f"{name}.json"
    document = {"name": name, "meta": {"runbook": {"id_column": id_column}}, "expectations": expectations}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(30)], "x": np.arange(30, dtype=float), "label": "ok"})


def test_misspelled_expectation_type_is_refused(tmp_path: Path) -> None:
    """A suite file with a misspelled type is a BadSuite naming the file, the type and the right spelling."""
    document = json.loads(suite_path("market_history").read_text(encoding="utf-8"))
    document["expectations"][2]["type"] = "expect_column_values_to_be_uniqe"
    path = tmp_path / "market_history.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BadSuite) as caught:
        load_suite(path)
    message = str(caught.value)
    assert str(path) in message
    assert "expectation #3" in message
    assert "'expect_column_values_to_be_uniqe'" in message
    assert "did you mean 'expect_column_values_to_be_unique'" in message
    assert "allowed: " in message
    assert "expect_table_row_count_to_be_between" in message


def test_great_expectations_alone_drops_the_misspelled_type(tmp_path: Path) -> None:
    """The reason for the check: GX's own loader keeps going with one expectation fewer."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    document = json.loads(suite_path("market_history").read_text(encoding="utf-8"))
    document["expectations"][2]["type"] = "expect_column_values_to_be_uniqe"
    silently = ExpectationSuite(name="market_history", expectations=document["expectations"])
    assert len(silently.expectations) == len(document["expectations"]) - 1


def test_kwargs_great_expectations_refuses_are_a_bad_suite(tmp_path: Path) -> None:
    """An unknown keyword of a known expectation is refused, naming the keyword."""
    path = _write_suite(tmp_path, [{"type": "expect_column_values_to_be_between",
                                    "kwargs": {"column": "x", "min_value": 0, "maxvalue": 1}}])
    with pytest.raises(BadSuite, match=r"expectation #1 \(expect_column_values_to_be_between\).*maxvalue"):
        load_suite(path)


def test_crashed_metric_is_an_error_not_a_failure(tmp_path: Path) -> None:
    """A metric that raises (numeric bounds on a text column) gives status errored, not a data failure."""
    path = _write_suite(tmp_path, [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "label", "min_value": 0}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}},
    ])
    result = run_suite(path, _frame())
    assert result.status is QualityStatus.ERRORED
    assert not result.passed
    assert result.failures == ()
    (error,) = result.errors
    assert (error.expectation_type, error.column) == ("expect_column_values_to_be_between", "label")
    assert error.message
    with pytest.raises(ValidationFailed, match="could not be evaluated"):
        result.raise_for_status()


def test_missing_column_is_bad_input_naming_it() -> None:
    """A frame without a column the suite reads is BadInputData naming the missing columns."""
    frame = pd.DataFrame({"scenario_id": ["a"], "kind": ["historical"]})
    with pytest.raises(BadInputData, match=r"lacks column\(s\) as_of, portfolio_id"):
        run_suite("scenarios", frame)


def test_id_column_in_the_index_is_used(tmp_path: Path) -> None:
    """A frame indexed by its id column is checked, and samples name the ids."""
    path = _write_suite(tmp_path, [{"type": "expect_column_values_to_be_between",
                                    "kwargs": {"column": "x", "max_value": 25}}])
    result = run_suite(path, _frame().set_index("id"))
    (failure,) = result.failures
    assert failure.sample_ids == ("r26", "r27", "r28", "r29")
    assert failure.sample_rows[0] == {"id": "r26", "x": 26.0}


def test_sample_is_bounded(tmp_path: Path) -> None:
    """At most ``sample_size`` offending ids come back, while the count covers them all."""
    path = _write_suite(tmp_path, [{"type": "expect_column_values_to_be_between",
                                    "kwargs": {"column": "x", "max_value": 5}}])
    (failure,) = run_suite(path, _frame(), sample_size=3).failures
    assert failure.unexpected_count == 24
    assert failure.sample_ids == ("r6", "r7", "r8")


def test_input_frame_is_left_untouched() -> None:
    """Derived columns are added to a copy, never to the caller's frame."""
    frame = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=600), "spx_close": 100.0,
                          "nasdaq_close": 200.0, "wti_close": 50.0})
    before = frame.copy()
    assert run_suite("market_history", frame).passed
    pd.testing.assert_frame_equal(frame, before)


def test_result_is_json_able_with_nan_rows() -> None:
    """to_dict() survives NaN values and timestamps in the sample rows."""
    frame = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=600), "spx_close": 100.0,
                          "nasdaq_close": 200.0, "wti_close": 50.0})
    frame.loc[7, "spx_close"] = np.nan
    payload = json.loads(json.dumps(run_suite("market_history", frame).to_dict(), allow_nan=False))
    (failure,) = payload["failures"]
    assert failure["sample_rows"] == [{"date": "2020-01-10", "spx_close": "NaN"}]
    assert payload["status"] == "failed"


def test_data_docs_written_and_accumulated(tmp_path: Path) -> None:
    """With data_docs_dir, each run writes its own page, and the index lists the second beside the first."""
    docs = tmp_path / "data_docs"
    frame = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=600), "spx_close": 100.0,
                          "nasdaq_close": 200.0, "wti_close": 50.0})
    first = run_suite("market_history", frame, data_docs_dir=docs)
    run_suite("market_history", frame.head(300), data_docs_dir=docs)
    assert first.data_docs is not None
    assert first.data_docs.parent == docs / "validations" / "market_history"
    pages = sorted((docs / "validations" / "market_history").rglob("*.html"))
    assert len(pages) == 2
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert all(page.relative_to(docs).as_posix() in index for page in pages)


def test_runs_are_quiet(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Neither a run nor a Data Docs build writes to stdout or stderr (no progress bars)."""
    frame = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=600), "spx_close": 100.0,
                          "nasdaq_close": 200.0, "wti_close": 50.0})
    run_suite("market_history", frame, data_docs_dir=tmp_path)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_dropped_expectation_is_detected_by_count() -> None:
    """If GX ever loads fewer expectations than the file holds, the count check names the missing type."""
    suite = load_suite("market_history")
    loaded = [spec.type for spec in suite.expectations if spec.position != 4]
    with pytest.raises(BadSuite, match=r"loaded 13 of 14 expectations; not loaded: "
                                       r"expect_column_values_to_be_increasing"):
        check_loaded(suite, loaded)


def test_repository_expectations_path_runs() -> None:
    """A suite given by its path in the repository's expectations/ folder runs like the bundled name."""
    path = Path(__file__).resolve().parents[2] / "expectations" / "market_history.json"
    frame = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=600), "spx_close": 100.0,
                          "nasdaq_close": 200.0, "wti_close": 50.0})
    result = run_suite(str(path), frame)
    assert result.passed
    assert result.suite == "market_history"
