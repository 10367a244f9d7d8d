"""``runbook validate`` on a firm's own market data: the file named is the one used (requests,
backtest, report), date columns map through the catalog, and defects only in the single-request
path fail."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.cli import main

FEW = ["--historical", "300"]
NO_TIMING = "thresholds = { min_latency_excess_us = 1e6 }\n"  # no wall-clock verdicts in tests


def prices(path: Path, *, date_column: str = "date", days: int = 700, seed: int = 7) -> Path:
    """A synthetic price file: a date column and one price column per asset, a few gaps left empty."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=days)
    moves = rng.standard_t(4, size=(days, 3)) * 0.01
    frame = pd.DataFrame(100.0 * np.exp(np.cumsum(moves, axis=0)), columns=["brent", "gold", "eurusd"])
    frame.iloc[[50, 51, 300], 0] = np.nan  # gaps stay gaps
    frame.insert(0, date_column, dates.strftime("%Y-%m-%d"))
    frame.to_csv(path, index=False)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["validate", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    (tmp_path / "runbook.toml").write_text(f"[components.var_engine]\n{NO_TIMING}")
    return tmp_path


def test_var_engine_on_a_user_price_file_names_that_file(here, capsys):
    """The shipped VaR engines pass on the user's file; data block and backtest name it."""
    path = prices(here / "desk_prices.csv")
    code, report = run(capsys, "var_engine", "--market-data", str(path), *FEW)
    assert code == 0, report["failed_checks"]
    data = report["data"]
    assert data["path"] == str(path)
    assert data["rows"] == 700
    assert (data["first_date"], data["last_date"]) == ("2015-01-01", "2017-09-06")
    assert data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    [backtest] = [c for c in report["checks"] if c["name"] == "backtest_traffic_light"]
    assert str(path) in backtest["detail"]
    assert backtest["numbers"]["data"] == str(path)
    assert report["engines"]["candidate"]["path"] == "runbook.engines.var:VaRCalculationEngine"
    assert len(report["engines"]["legacy"]["sha256"]) == 64


def test_a_date_column_named_otherwise_is_mapped_in_the_catalog(here, capsys):
    """``[data] date_column = "Date"`` reads a file whose date column is 'Date'; without it, exit 2."""
    path = prices(here / "Prices.csv", date_column="Date")
    assert main(["validate", "var_engine", "--market-data", str(path), *FEW]) == 2
    assert "no date column 'date'" in capsys.readouterr().err
    (here / "runbook.toml").write_text(f'[data]\ndate_column = "Date"\n[components.var_engine]\n{NO_TIMING}')
    code, report = run(capsys, "var_engine", "--market-data", str(path), *FEW)
    assert code == 0, report["failed_checks"]
    assert report["data"]["path"] == str(path)
    assert report["data"]["first_date"] == "2015-01-01"


def test_portfolios_file_drives_the_requests(here, capsys):
    """Requests are built from the portfolios given (CSV portfolio,asset,position)."""
    path = prices(here / "p.csv")
    (here / "books.csv").write_text("portfolio,asset,position\nenergy,brent,2000000\nenergy,gold,-500000\n")
    code, report = run(capsys, "var_engine", "--market-data", str(path), "--portfolios", "books.csv", *FEW)
    assert code == 0, report["failed_checks"]
    [backtest] = [c for c in report["checks"] if c["name"] == "backtest_traffic_light"]
    assert backtest["numbers"]["portfolio_id"] == "energy"


def test_a_portfolio_holding_an_unknown_asset_is_bad_input(here, capsys):
    """A position in an asset the market data lacks: exit 2 naming it."""
    path = prices(here / "p.csv")
    (here / "books.json").write_text(json.dumps({"macro": {"brent": 1e6, "copper": 1e6}}))
    assert main(["validate", "var_engine", "--market-data", str(path), "--portfolios", "books.json"]) == 2
    assert "copper" in capsys.readouterr().err


def test_a_defect_only_in_the_single_request_path_fails(here, capsys):
    """h instead of sqrt(h) in calculate_var_sync: FAIL on the user's data, naming a 10-day request."""
    path = prices(here / "p.csv")
    fault = ["--inject-fault", "single_path_horizon"]
    code, report = run(capsys, "var_engine", "--market-data", str(path), *fault, *FEW)
    assert code == 1
    assert "tolerance:var" in report["failed_checks"]
    assert " 10d " in report["worst_scenarios"][0]["scenario_id"]


def test_the_batch_validation_also_checks_the_single_request_path(here, capsys):
    """On the bundled data the batch checks pass for that defect; the single-request check fails it."""
    code, report = run(capsys, "var_engine", "--inject-fault", "single_path_horizon", "--historical", "400",
                       "--monte-carlo", "2000")  # fmt: skip
    assert code == 1
    assert report["failed_checks"] == ["single_request_path"]
    [check] = [c for c in report["checks"] if c["name"] == "single_request_path"]
    assert check["numbers"]["requests"] == 1000
    assert "horizon_days=" in check["detail"]


PLAIN = '''
import math
import numpy as np


def var(positions, returns, confidence, horizon_days):
    exposure = np.array([positions[a] for a in positions])
    moves = np.expm1(np.column_stack([np.asarray(returns[a], float) for a in positions]))
    losses = -(moves @ exposure)
    v = float(np.quantile(losses, confidence))
    scale = math.sqrt(horizon_days)
    return {"var": v * scale, "es": float(losses[losses >= v].mean()) * scale}


def var_linear_horizon(positions, returns, confidence, horizon_days):
    result = var(positions, returns, confidence, 1)
    return {k: v * horizon_days for k, v in result.items()}
'''


@pytest.mark.parametrize(("candidate", "passes"), [("var", True), ("var_linear_horizon", False)])
def test_a_plain_function_validates_with_a_catalog_entry_and_no_adapter(here, capsys, candidate, passes):
    """``def var(positions, returns, confidence, horizon_days)`` against the shipped legacy VaR:
    passes as written (parametric VaR skipped, with the reason); a horizon defect fails."""
    (here / "desk.py").write_text(textwrap.dedent(PLAIN))
    (here / "runbook.toml").write_text(textwrap.dedent(f"""
        [components.desk_var]
        tier = "critical"
        kind = "var"
        legacy = "runbook.engines.plain:legacy_var"
        candidate = "desk:{candidate}"
        check = "var >= 0 and es >= var"
        fields = {{ var = {{ rel = 1e-9, abs = 0.01 }}, es = {{ rel = 1e-9, abs = 0.01 }} }}
        {NO_TIMING}"""))
    path = prices(here / "p.csv")
    code, report = run(capsys, "desk_var", "--market-data", str(path), *FEW)
    assert (code == 0) is passes, report["failed_checks"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["parametric_var"]["numbers"]["skipped"] is True
    assert "takes no 'method' argument" in checks["parametric_var"]["detail"]
    assert checks["result_check"]["passed"]
