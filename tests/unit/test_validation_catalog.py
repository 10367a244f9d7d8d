"""Catalog validation on a small price file: the backtest failing when an engine raises or returns no
VaR, requests files with and without market data, and the market-data kind's generated requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from runbook.engines.callables import load_callable, wrap_callable
from runbook.scenarios.catalog_requests import Sources
from runbook.scenarios.generated import backtest_requests, var_requests
from runbook.scenarios.user_data import load_portfolios, load_prices
from runbook.validation.catalog_backtest import backtest_check
from runbook.validation.catalog_validation import validate_catalog_component

DAYS = 300  # 300 prices: 299 returns, 48 rolling 250-day backtest windows


class Ticks:
    """A clock advancing one microsecond per reading (no wall time in tests)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the working directory, with no catalog but the bundled one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    return tmp_path


@pytest.fixture
def prices(here: Path) -> Path:
    """Three assets' synthetic daily prices (Student-t moves), no gaps."""
    rng = np.random.default_rng(11)
    moves = rng.standard_t(4, size=(DAYS, 3)) * 0.01
    frame = pd.DataFrame(100.0 * np.exp(np.cumsum(moves, axis=0)), columns=["brent", "gold", "eurusd"])
    frame.insert(0, "date", pd.bdate_range("2019-01-01", periods=DAYS).strftime("%Y-%m-%d"))
    path = here / "desk_prices.csv"
    frame.to_csv(path, index=False)
    return path


def shipped(role: str) -> Any:
    return load_callable(f"runbook.engines.plain:{role}_var", role=role, component="var_engine")


def test_an_engine_raising_in_the_backtest_fails_it_naming_the_request_and_the_file(prices):
    history, _ = load_prices(prices)
    book = next(b for b in load_portfolios(None, history.assets) if b.portfolio_id == "equal-weight")
    first_id = backtest_requests(history, book, confidence=0.99)[0][0].request_id

    def no_oil(**kwargs: Any) -> Any:
        raise ZeroDivisionError("no oil today")

    check = backtest_check(history, Sources(), shipped("legacy"), wrap_callable("desk:no_oil", no_oil, None),
                           data_path=str(prices))  # fmt: skip
    assert not check.passed
    assert check.detail == (f"candidate engine 'desk:no_oil' raised ZeroDivisionError: no oil today on "
                            f"backtest request {first_id} ({prices})")  # fmt: skip
    assert check.numbers == {"data": str(prices)}


def test_a_result_without_a_var_field_fails_the_backtest(prices):
    history, _ = load_prices(prices)
    check = backtest_check(history, Sources(), wrap_callable("desk:renamed", lambda **kw: {"VaR": 1.0}, None),
                           shipped("candidate"), data_path=None)  # fmt: skip
    assert not check.passed
    expected = "legacy engine 'desk:renamed' raised ValueError: result has no 'var' field (fields: VaR)"
    assert check.detail.startswith(f"{expected} on backtest request ")
    assert check.detail.endswith("(the bundled market history)")


def test_the_shipped_engines_pass_the_backtest_on_the_file(prices):
    """Identical VaR series: same exceptions, same zone, over the 48 days the file allows."""
    history, _ = load_prices(prices)
    check = backtest_check(history, Sources(), shipped("legacy"), shipped("candidate"), data_path=str(prices))
    assert check.passed
    assert check.numbers["observations"] == DAYS - 1 - 250
    assert check.numbers["exceptions_legacy"] == check.numbers["exceptions_candidate"]
    assert check.numbers["portfolio_id"] == "equal-weight"


def write_var_requests(prices: Path, count: int) -> Path:
    history, _ = load_prices(prices)
    path = prices.with_name("requests.jsonl")
    rows = []
    for request in var_requests(history, load_portfolios(None, history.assets), count=count, seed=2):
        kwargs = dict(request.kwargs, returns={a: r.tolist() for a, r in request.kwargs["returns"].items()})
        rows.append(json.dumps(kwargs | {"routing_key": request.routing_key}))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_var_requests_from_a_file_are_backtested_on_the_market_data_given(prices):
    """A requests file plus a price file: the requests are validated and the backtest runs on that file."""
    requests = write_var_requests(prices, 24)
    sources = Sources(market_data=str(prices), requests=str(requests))
    report = validate_catalog_component("var_engine", sources, monte_carlo=30, timer=Ticks())
    checks = {c.name: c for c in report.checks}
    assert report.passed, [c.detail for c in report.checks if not c.passed]
    assert report.summary["requests"] == 24
    assert report.summary["source"] == f"from requests file {requests}"
    backtest = checks["backtest_traffic_light"]
    assert backtest.gating
    assert backtest.numbers["data"] == str(prices)
    assert checks["monte_carlo_var_es"].numbers == checks["monte_carlo_var_es"].numbers | {
        "requests": 30, "calibrated_on": str(prices), "outside": 0,
    }  # fmt: skip
    assert report.data is not None
    assert report.data["path"] == str(prices)


def test_var_requests_from_a_file_without_market_data_skip_the_backtest_and_monte_carlo(prices):
    requests = write_var_requests(prices, 4)
    report = validate_catalog_component("var_engine", Sources(requests=str(requests)), timer=Ticks())
    checks = {c.name: c for c in report.checks}
    backtest = checks["backtest_traffic_light"]
    assert not backtest.gating
    assert backtest.detail == "skipped: requests come from a file; no market data given"
    monte_carlo = checks["monte_carlo_var_es"]
    assert not monte_carlo.gating
    assert monte_carlo.detail == (
        "skipped: requests come from a file; no market data given to calibrate the simulation on"
    )
    assert report.data is None


def test_market_data_requests_generated_from_the_file_have_no_var_checks(prices):
    """The market-data kind: generated requests, field by field; no parametric, Monte Carlo or backtest."""
    report = validate_catalog_component("market_data_provider", Sources(market_data=str(prices)), count=12,
                                        timer=Ticks())  # fmt: skip
    names = {c.name for c in report.checks}
    assert report.passed, [c.detail for c in report.checks if not c.passed]
    assert report.summary == report.summary | {
        "requests": 12,
        "source": f"generated from market data {prices}",
    }
    assert not names & {"parametric_var", "monte_carlo_var_es", "backtest_traffic_light"}
    assert "engine_errors" in names
    assert any(n.startswith("tolerance:") for n in names)


def test_an_interrupt_in_the_backtest_stops_it(prices):
    def interrupted(**kwargs: Any) -> Any:
        raise KeyboardInterrupt

    history, _ = load_prices(prices)
    stop = wrap_callable("desk:stop", interrupted, None)
    with pytest.raises(KeyboardInterrupt):
        backtest_check(history, Sources(), stop, shipped("candidate"), data_path=None)


def test_no_monte_carlo_requests_skip_the_monte_carlo_check(prices):
    report = validate_catalog_component(
        "var_engine", Sources(market_data=str(prices)), count=6, monte_carlo=0, timer=Ticks()
    )
    check = {c.name: c for c in report.checks}["monte_carlo_var_es"]
    assert not check.gating
    assert check.detail == "skipped: Monte Carlo requests: 0 asked for"


def test_a_candidate_raising_alone_on_a_simulated_window_fails_monte_carlo(prices):
    """The third simulated request raises in the candidate only: FAIL naming it and counting one."""
    from runbook.domain.catalog import entry_of
    from runbook.scenarios.user_montecarlo import calibrate_returns, monte_carlo_requests
    from runbook.validation.catalog_montecarlo import monte_carlo_check

    history, _ = load_prices(prices)
    books = load_portfolios(None, history.assets)
    requests = monte_carlo_requests(calibrate_returns(history), books, count=6, seed=3)
    legacy = shipped("legacy")
    calls = []

    def third_fails(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("third call")
        return legacy.call(kwargs)

    candidate = wrap_callable("desk:third", third_fails, None)
    check = monte_carlo_check(entry_of("var_engine"), legacy, candidate, requests, calibrated_on="p.csv")
    assert not check.passed
    assert check.detail == (
        f"candidate engine 'desk:third' raised RuntimeError: third call on request {requests[2].request_id} "
        "(1 of 6 simulated windows calibrated on p.csv raised in one engine only)"
    )
    assert (check.numbers["raised_alone"], check.numbers["outside"]) == (1, 0)


def test_the_market_data_check_is_the_one_handed_in(prices):
    """Great Expectations stays outside validation/: the caller hands the data-quality check in, it is
    called with the file and its date column, and its failure fails the validation."""
    from runbook.validation.report import Check

    calls: list[tuple[str | None, str]] = []

    def failing(path: str | None, date_column: str) -> Check:
        calls.append((path, date_column))
        return Check("data_quality:market_prices", False, "close_A has 3 negative prices")

    report = validate_catalog_component("market_data_provider", Sources(market_data=str(prices)), count=6,
                                        timer=Ticks(), data_quality=failing)  # fmt: skip
    assert calls == [(str(prices), "date")]
    assert not report.passed
    assert [c.name for c in report.failed_checks] == ["data_quality:market_prices"]


def test_without_a_data_quality_runner_the_check_is_skipped_not_passed(prices):
    report = validate_catalog_component("market_data_provider", Sources(market_data=str(prices)), count=6,
                                        timer=Ticks())  # fmt: skip
    check = {c.name: c for c in report.checks}["data_quality:market_prices"]
    assert not check.gating
    assert check.detail.startswith("skipped: no data-quality suite runner given")
