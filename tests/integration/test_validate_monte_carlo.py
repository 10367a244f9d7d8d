"""Monte Carlo on the single-request path: calibrated on the market data given (mean and
covariance of its daily log returns, gap rows dropped), stated in the report's data block and text
report, and a candidate that differs on simulated windows fails naming the request."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.cli import main
from runbook.domain.catalog import ComponentEntry, Kind, Tolerance
from runbook.engines.callables import wrap_callable
from runbook.scenarios.requests_file import Request
from runbook.validation.catalog_montecarlo import monte_carlo_check

NO_TIMING = "thresholds = { min_latency_excess_us = 1e6 }\n"  # no wall-clock verdicts in tests
ASSETS = ["brent", "gold"]

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


def price_frame(days: int = 600, seed: int = 11) -> pd.DataFrame:
    """Two assets with drift and correlation; brent misses rows 40, 41 and 200 (gaps stay gaps)."""
    rng = np.random.default_rng(seed)
    moves = rng.multivariate_normal([3e-4, -1e-4], [[1e-4, 4e-5], [4e-5, 2.5e-5]], size=days)
    frame = pd.DataFrame(50.0 * np.exp(np.cumsum(moves, axis=0)), columns=ASSETS)
    frame.iloc[[40, 41, 200], 0] = np.nan
    frame.insert(0, "date", pd.bdate_range("2016-01-01", periods=days).strftime("%Y-%m-%d"))
    return frame


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    (tmp_path / "mc_desk.py").write_text(textwrap.dedent(PLAIN))
    return tmp_path


def catalog(here: Path, candidate: str = "var") -> None:
    (here / "runbook.toml").write_text(textwrap.dedent(f"""
        [components.desk_var]
        tier = "critical"
        kind = "var"
        legacy = "mc_desk:var"
        candidate = "mc_desk:{candidate}"
        fields = {{ var = {{ rel = 1e-9, abs = 0.01 }}, es = {{ rel = 1e-9, abs = 0.01 }} }}
        {NO_TIMING}"""))


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["validate", "desk_var", *args, "--historical", "40", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_calibration_on_the_users_returns_is_in_the_data_block(here, capsys):
    """Mean, volatility and correlation of the complete return rows of the file, as pandas computes them."""
    catalog(here)
    frame = price_frame()
    frame.to_csv(here / "prices.csv", index=False)
    code, report = validate(capsys, "--market-data", "prices.csv", "--monte-carlo", "60", "--seed", "4")
    assert code == 0, report["failed_checks"]
    logs = np.log(frame[ASSETS])
    complete = (logs - logs.ffill().shift(1)).iloc[1:].dropna()  # a return spans a gap; the gap row has none
    mc = report["data"]["monte_carlo"]
    assert (mc["rows_used"], mc["rows_dropped"]) == (596, 3)
    assert mc["gaps"].startswith("rows dropped: only dates on which every asset has a return (3 of 599 ")
    assert (mc["first_date"], mc["last_date"]) == ("2016-01-04", frame["date"].iloc[-1])
    assert mc["calibrated_on"] == "prices.csv"
    assert (mc["requests"], mc["window_days"], mc["seed"]) == (60, 250, 4)
    assert mc["assets"] == ASSETS
    for asset in ASSETS:
        assert mc["mean"][asset] == pytest.approx(complete[asset].mean(), rel=1e-10)
        assert mc["volatility"][asset] == pytest.approx(complete[asset].std(ddof=1), rel=1e-10)
    assert mc["correlation"][0][1] == pytest.approx(complete.corr().iloc[0, 1], rel=1e-10)
    [check] = [c for c in report["checks"] if c["name"] == "monte_carlo_var_es"]
    assert check["passed"]
    assert check["detail"] == ("60 simulated windows calibrated on prices.csv: every field of both engines "
                               "within tolerance")


def test_the_text_report_states_the_calibration(here, capsys):
    """The text report has a monte carlo line; report.html one row per calibration entry."""
    catalog(here)
    price_frame().to_csv(here / "prices.csv", index=False)
    code = main(["validate", "desk_var", "--market-data", "prices.csv", "--historical", "40",
                 "--monte-carlo", "30", "--report", "out"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    html = (here / "out" / "report.html").read_text()
    assert "<td>data monte_carlo.rows_dropped</td><td>3</td>" in html
    assert "<td>data path</td><td>prices.csv</td>" in html
    assert ("monte carlo: 30 simulated 250-day windows, mean and covariance of daily log returns of brent, "
            "gold on 596 dates of prices.csv (2016-01-04 to ") in out
    assert "gaps: rows dropped (3 dates)" in out


def test_a_defect_on_simulated_windows_fails_naming_the_request(here, capsys):
    """h instead of sqrt(h): the Monte Carlo check fails too, naming a 10-day simulated request."""
    catalog(here, "var_linear_horizon")
    price_frame().to_csv(here / "prices.csv", index=False)
    code, report = validate(capsys, "--market-data", "prices.csv", "--monte-carlo", "20")
    assert code == 1
    [check] = [c for c in report["checks"] if c["name"] == "monte_carlo_var_es"]
    assert not check["passed"]
    assert check["numbers"]["outside"] > 0
    # 3 books in turn, horizons 1, 10 alternating per round of books: mc3-5, mc9-11, mc15-17 are 10-day
    assert check["detail"].startswith("9 of 20 simulated windows calibrated on prices.csv outside tolerance; "
                                      "first mc3:long-brent 10d 0.99: es legacy ")


def test_monte_carlo_zero_is_skipped_with_the_reason(here, capsys):
    catalog(here)
    price_frame().to_csv(here / "prices.csv", index=False)
    code, report = validate(capsys, "--market-data", "prices.csv", "--monte-carlo", "0")
    assert code == 0, report["failed_checks"]
    [check] = [c for c in report["checks"] if c["name"] == "monte_carlo_var_es"]
    assert check["numbers"] == {"skipped": True, "reason": "Monte Carlo requests: 0 asked for"}
    assert "monte_carlo" not in report["data"]


def test_without_market_data_the_bundled_set_is_named(here, capsys):
    """No market data given: calibration on the bundled history, and the report says so."""
    catalog(here)
    code, report = validate(capsys, "--monte-carlo", "10")
    assert code == 0, report["failed_checks"]
    assert report["data"]["monte_carlo"]["calibrated_on"] == "the bundled market history"
    assert report["data"]["monte_carlo"]["assets"] == ["spx", "nasdaq", "wti"]
    assert report["data"]["monte_carlo"]["rows_dropped"] == 19  # WTI's 19 missing closes


def _entry() -> ComponentEntry:
    return ComponentEntry("desk_var", kind=Kind.VAR, fields={"var": Tolerance(rel=0.0)})


def _requests() -> list[Request]:
    return [Request(f"mc{i}:book {h}d 0.99", {"x": float(i), "horizon_days": h}, "book")
            for i, h in enumerate((1, 10, 1, 10))]


def test_an_engine_raising_alone_on_a_simulated_window_fails_naming_it():
    def legacy(x, horizon_days):
        return {"var": x}

    def candidate(x, horizon_days):
        if horizon_days == 10:
            raise ValueError("no 10-day VaR")
        return {"var": x}

    def both_raise(x, horizon_days):
        raise ValueError("never")

    old, new = wrap_callable("t:legacy", legacy, None), wrap_callable("t:candidate", candidate, None)
    check = monte_carlo_check(_entry(), old, new, _requests(), calibrated_on="p.csv")
    assert not check.passed
    assert check.detail == ("candidate engine 't:candidate' raised ValueError: no 10-day VaR on request "
                            "mc1:book 10d 0.99 (2 of 4 simulated windows calibrated on p.csv raised in one "
                            "engine only)")
    assert check.numbers["raised_alone"] == 2
    broken = wrap_callable("t:both", both_raise, None)
    both = monte_carlo_check(_entry(), broken, broken, _requests(), calibrated_on="p.csv")
    assert both.passed  # raising on every window in both engines is agreement, as on the main requests
    assert both.numbers["raised_alone"] == 0
