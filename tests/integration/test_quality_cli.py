"""``runbook check-data SUITE PATH``: exit 0 pass, 1 fail, 2 bad input or bad suite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.cli import main
from runbook.quality import suite_path

MARKET_CSV = Path(__file__).resolve().parents[2] / "src/runbook/scenarios/data/market_history.csv"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own RUNBOOK_HOME, so Data Docs land in tmp_path/data_docs."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def broken_csv(tmp_path: Path) -> Path:
    frame = pd.read_csv(MARKET_CSV)
    frame.loc[2450, "spx_close"] = np.nan
    path = tmp_path / "broken.csv"
    frame.to_csv(path, index=False)
    return path


def test_bundled_csv_passes_and_writes_data_docs(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled market history passes (exit 0) and Data Docs appear under RUNBOOK_HOME/data_docs."""
    assert main(["check-data", "market_history", str(MARKET_CSV)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("market_history: PASSED, 5,031 rows, 14 expectations")
    assert (home / "data_docs" / "index.html").is_file()


def test_bad_data_exits_1_naming_expectation_and_row(
    broken_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NaN close exits 1 and prints the failed expectation with the date of the row."""
    assert main(["check-data", "market_history", str(broken_csv), "--no-docs"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   expect_column_values_to_not_be_null on spx_close: 1 row" in out
    assert "row: date=2008-09-30 spx_close=NaN" in out


def test_parquet_input_and_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Parquet file is read, and --json prints the result as one JSON document."""
    frame = pd.read_csv(MARKET_CSV, parse_dates=["date"])
    frame.loc[10, "date"] = frame.loc[9, "date"]
    path = tmp_path / "market.parquet"
    frame.to_parquet(path)
    assert main(["check-data", "market_history", str(path), "--json", "--no-docs"]) == 1
    payload = json.loads(capsys.readouterr().out)
    unique = [f for f in payload["failures"] if f["expectation_type"] == "expect_column_values_to_be_unique"]
    assert unique[0]["sample_ids"] == ["1999-01-15", "1999-01-15"]


def test_misspelled_suite_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--suite-file with a misspelled expectation type exits 2 with one line naming the type."""
    document = json.loads(suite_path("market_history").read_text(encoding="utf-8"))
    document["expectations"][1]["type"] = "expect_column_values_to_not_be_nul"
    suite_file = tmp_path / "suite.json"
    suite_file.write_text(json.dumps(document), encoding="utf-8")
    code = main(["check-data", "market_history", str(MARKET_CSV), "--suite-file", str(suite_file)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("runbook: error: ")
    assert "'expect_column_values_to_not_be_nul'" in err
    assert str(suite_file) in err


def test_suite_file_of_another_suite_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A suite file whose name is not SUITE is refused rather than silently checking the wrong thing."""
    other = str(suite_path("scenarios"))
    code = main(["check-data", "market_history", str(MARKET_CSV), "--suite-file", other])
    assert code == 2
    assert "defines suite 'scenarios', not 'market_history'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check-data", "no_such_suite", str(MARKET_CSV)],
         "unknown suite 'no_such_suite'; allowed: market_history"),
        (["check-data", "market_history", "missing.csv"], "missing.csv: no such file"),
        (["check-data", "market_history", "data.xlsx"], "unsupported file type '.xlsx'"),
        (["check-data", "scenarios", str(MARKET_CSV)], "lacks column(s) scenario_id, kind"),
    ],
    ids=["unknown-suite", "missing-file", "unsupported-type", "wrong-columns"],
)
def test_bad_input_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown suite, missing or unsupported file, or a frame without the suite's columns: exit 2."""
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unevaluable_expectation_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An expectation whose metric crashes on this data exits 2, not 1: nothing is known about the data."""
    suite_file = tmp_path / "custom.json"
    suite_file.write_text(json.dumps({
        "name": "custom", "meta": {"runbook": {"id_column": "date"}},
        "expectations": [{"type": "expect_column_values_to_be_between",
                          "kwargs": {"column": "date", "min_value": 0}}],
    }), encoding="utf-8")
    assert main(["check-data", "custom", str(MARKET_CSV), "--suite-file", str(suite_file), "--no-docs"]) == 2
    captured = capsys.readouterr()
    assert "ERROR    expect_column_values_to_be_between on date" in captured.out
    assert "could not be evaluated" in captured.err


def test_console_script_end_to_end(broken_csv: Path, home: Path) -> None:
    """The installed ``runbook`` entry point runs the check in a fresh process and exits 1."""
    script = Path(sys.executable).parent / "runbook"
    completed = subprocess.run([str(script), "check-data", "market_history", str(broken_csv)],
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 1, completed.stderr
    assert "spx_close" in completed.stdout
    assert completed.stderr == ""
