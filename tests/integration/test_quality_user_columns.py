"""The ``market_prices`` suite is built for the columns of the firm's price file: per-asset
expectations from its column list, the date column the catalog maps, every built expectation loaded
by Great Expectations (counted), and ``runbook validate --market-data`` runs it on the file named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.cli import main
from runbook.errors import BadSuite
from runbook.quality import for_columns, load_suite, run_suite
from runbook.quality._suite import check_loaded, to_gx_suite

NO_TIMING = "thresholds = { min_latency_excess_us = 1e6 }\n"  # no wall-clock verdicts in tests
ASSETS = ("brent", "gold", "eurusd")


def prices(days: int = 700, *, date_column: str = "date", seed: int = 3) -> pd.DataFrame:
    """A date column and one price column per asset; brent misses 3 of 700 days (0.43%)."""
    rng = np.random.default_rng(seed)
    moves = rng.standard_normal((days, len(ASSETS))) * 0.01
    frame = pd.DataFrame(100.0 * np.exp(np.cumsum(moves, axis=0)), columns=list(ASSETS))
    frame.iloc[[50, 51, 300], 0] = np.nan
    frame.insert(0, date_column, pd.bdate_range("2015-01-01", periods=days).strftime("%Y-%m-%d"))
    return frame


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    return tmp_path


def test_the_suite_is_built_per_asset_from_the_column_list() -> None:
    """Five table/date expectations, then not-null (1% gaps allowed), positive price and a log-move
    warning for each asset; Great Expectations loads all eleven for two assets."""
    built = for_columns(load_suite("market_prices"), ["Day", "brent", "gold"], date_column="Day")
    assert [(s.position, s.type, s.label) for s in built.expectations] == [
        (1, "expect_table_row_count_to_be_between", None),
        (2, "expect_column_values_to_not_be_null", "Day"),
        (3, "expect_column_values_to_be_unique", "Day"),
        (4, "expect_column_values_to_be_increasing", "Day"),
        (5, "expect_column_values_to_be_between", "date_gap_days"),
        (6, "expect_column_values_to_not_be_null", "brent"),
        (7, "expect_column_values_to_not_be_null", "gold"),
        (8, "expect_column_values_to_be_between", "brent"),
        (9, "expect_column_values_to_be_between", "gold"),
        (10, "expect_column_values_to_be_between", "brent_log_return"),
        (11, "expect_column_values_to_be_between", "gold_log_return"),
    ]
    assert built.expectations[5].kwargs == {"column": "brent", "mostly": 0.99}
    assert built.expectations[7].kwargs["strict_min"] is True
    assert [e.severity for e in built.expectations[9:]] == ["warning", "warning"]
    assert built.id_column == "Day"
    assert [(d.name, d.op, d.column) for d in built.derived_columns] == [
        ("date_gap_days", "calendar_gap_days", "Day"), ("brent_log_return", "log_return", "brent"),
        ("gold_log_return", "log_return", "gold")]
    assert not built.is_template
    assert len(to_gx_suite(built).expectations) == 11


def test_a_built_expectation_that_does_not_load_is_named() -> None:
    """The count is checked after building: one of the eleven missing is a BadSuite naming its type."""
    built = for_columns(load_suite("market_prices"), ["date", "brent", "gold"])
    loaded = [s.type for s in built.expectations if s.position != 7]
    with pytest.raises(BadSuite, match="loaded 10 of 11 expectations; not loaded: "
                                       "expect_column_values_to_not_be_null"):
        check_loaded(built, loaded)


def test_a_misspelled_per_asset_type_is_refused(tmp_path: Path) -> None:
    """A misspelled type in a per-asset entry is refused when the template loads, before any data."""
    from runbook.quality import suite_path

    document = json.loads(suite_path("market_prices").read_text(encoding="utf-8"))
    document["expectations"][6]["type"] = "expect_column_values_to_be_betwen"
    path = tmp_path / "market_prices.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BadSuite, match=r"expectation #7: unknown expectation type "
                                       r"'expect_column_values_to_be_betwen' \(did you mean"):
        load_suite(path)


def test_a_frame_with_only_a_date_column_is_bad_input() -> None:
    from runbook.errors import BadInputData

    with pytest.raises(BadInputData, match="one price column per asset besides 'date'; the data has: date"):
        run_suite("market_prices", prices()[["date"]])
    with pytest.raises(BadInputData, match="no date column 'Day'; it has: date, brent"):
        run_suite("market_prices", prices(), date_column="Day")
    with pytest.raises(BadInputData, match="checks a pandas DataFrame, not list"):
        run_suite("market_prices", [1, 2], date_column="Day")


def test_check_data_takes_the_files_columns_and_date_column(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(prices(date_column="Day"), home / "desk.csv")
    assert main(["check-data", "market_prices", str(path), "--date-column", "Day", "--no-docs"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "market_prices: PASSED, 700 rows, 14 expectations, 0 failed, 0 warning(s), 0 errored")
    assert main(["check-data", "market_prices", str(path), "--no-docs"]) == 2
    assert "no date column 'date'; it has: Day, brent, gold, eurusd" in capsys.readouterr().err
    (home / "runbook.toml").write_text('[data]\ndate_column = "Day"\n')  # mapped in the catalog instead
    assert main(["check-data", "market_prices", str(path), "--no-docs"]) == 0
    assert capsys.readouterr().out.startswith("market_prices: PASSED, 700 rows, 14 expectations")


@pytest.mark.parametrize(("defect", "expected"), [
    ("gaps", "FAILED   expect_column_values_to_not_be_null on gold: 21 rows (3%), e.g. 2015-01-01"),
    ("non-positive",
     "FAILED   expect_column_values_to_be_between on eurusd: 1 row (0.143%), e.g. 2015-02-10"),
    ("duplicate-date", "FAILED   expect_column_values_to_be_unique on date: 2 rows"),
    ("hole", "FAILED   expect_column_values_to_be_between on date_gap_days: 1 row"),
    ("jump", "WARNING  expect_column_values_to_be_between on gold_log_return: 2 rows"),
])
def test_check_data_names_the_asset_column_at_fault(
    home: Path, capsys: pytest.CaptureFixture[str], defect: str, expected: str
) -> None:
    frame = prices()
    if defect == "gaps":
        frame.loc[:20, "gold"] = np.nan  # 21 of 700 days: over the 1% a feed may miss
    elif defect == "non-positive":
        frame.loc[28, "eurusd"] = 0.0
    elif defect == "duplicate-date":
        frame.loc[11, "date"] = frame.loc[10, "date"]
    elif defect == "hole":
        frame = frame.drop(index=range(100, 110))  # two business weeks: a 16-day hole
    else:
        frame.loc[400, "gold"] *= 1.5  # up 41% in log terms and back down
    path = write(frame, home / "p.csv")
    code = main(["check-data", "market_prices", str(path), "--no-docs"])
    out = capsys.readouterr().out
    assert code == (0 if defect == "jump" else 1), out
    assert expected in out


def test_the_bundled_suite_points_a_price_file_to_market_prices(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(prices(), home / "p.csv")
    assert main(["check-data", "market_history", str(path), "--no-docs"]) == 2
    err = capsys.readouterr().err
    assert "lacks column(s) spx_close, nasdaq_close, wti_close; it has: date, brent, gold, eurusd" in err
    assert "is checked by suite market_prices" in err


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["validate", "var_engine", *args, "--historical", "200", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_validate_runs_the_suite_on_the_market_data_given(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The date column mapped in the catalog is the suite's; the check names the file and counts."""
    (home / "runbook.toml").write_text(f'[data]\ndate_column = "Day"\n[components.var_engine]\n{NO_TIMING}')
    path = write(prices(date_column="Day"), home / "desk.csv")
    code, report = _validate(capsys, "--market-data", str(path))
    assert code == 0, report["failed_checks"]
    [check] = [c for c in report["checks"] if c["name"] == "data_quality:market_prices"]
    assert check["numbers"]["path"] == str(path)
    assert check["numbers"]["date_column"] == "Day"
    assert check["numbers"]["expectations"] == 14
    assert check["numbers"]["rows"] == 700
    assert check["detail"] == (f"market_prices: PASSED, 700 rows, 14 expectations, 0 failed, 0 warning(s), "
                               f"0 errored on {path}")


def test_validate_fails_on_market_data_breaking_the_suite(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An asset missing 3% of its days: the engines agree, the data fails, so the validation fails."""
    (home / "runbook.toml").write_text(f"[components.var_engine]\n{NO_TIMING}")
    frame = prices()
    frame.loc[100:120, "gold"] = np.nan
    path = write(frame, home / "gappy.csv")
    code, report = _validate(capsys, "--market-data", str(path))
    assert code == 1
    assert report["failed_checks"] == ["data_quality:market_prices"]
    [check] = [c for c in report["checks"] if c["name"] == "data_quality:market_prices"]
    assert check["numbers"]["failed"] == [
        "expect_column_values_to_not_be_null on gold: 21 rows (3%), e.g. 2015-05-21, 2015-05-22, 2015-05-25, "
        "2015-05-26, 2015-05-27, 2015-05-28, 2015-05-29, 2015-06-01, 2015-06-02, 2015-06-03"]
    assert "on gold: 21 rows" in check["detail"]


def test_price_windows_are_checked_on_the_same_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Kind market_data: the suite runs on the file the price windows come from."""
    (home / "runbook.toml").write_text(f"[components.market_data_provider]\n{NO_TIMING}")
    path = write(prices(), home / "p.csv")
    code = main(["validate", "market_data_provider", "--market-data", str(path), "--historical", "30",
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["failed_checks"]
    [check] = [c for c in report["checks"] if c["name"] == "data_quality:market_prices"]
    assert (check["numbers"]["path"], check["numbers"]["expectations"]) == (str(path), 14)


def test_a_requests_file_with_market_data_checks_that_data(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Requests from a file and market data beside them: the suite and the backtest use the data."""
    (home / "runbook.toml").write_text(f"[components.var_engine]\n{NO_TIMING}")
    frame = prices()
    path = write(frame, home / "p.csv")
    returns = np.diff(np.log(frame[["gold", "eurusd"]].to_numpy()), axis=0)[-250:]
    rows = [{"positions": {"gold": 1e6, "eurusd": -4e5}, "returns": {"gold": list(returns[:, 0]),
             "eurusd": list(returns[:, 1])}, "confidence": 0.99, "horizon_days": h} for h in (1, 10)]
    (home / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(["validate", "var_engine", "--requests", "requests.jsonl", "--market-data", str(path),
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["failed_checks"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["data_quality:market_prices"]["numbers"]["path"] == str(path)
    assert checks["data_quality:market_prices"]["passed"]
    assert str(path) in checks["backtest_traffic_light"]["detail"]
    assert report["summary"]["requests"] == 2
