"""Requests generated from the user's market data for kinds hedge, performance and correlation:
the documented keyword arguments, taken from the file as written (gaps stay gaps), validated through
the shipped engines and through a plain function, and each kind's fault caught on them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.cli import main
from runbook.errors import BadInputData
from runbook.scenarios.generated import correlation_requests, hedge_requests, performance_requests
from runbook.scenarios.user_data import UserPortfolio, load_prices

NO_TIMING = "thresholds = { min_latency_excess_us = 1e6 }\n"  # no wall-clock verdicts in tests
ASSETS = ["brent", "gold", "eurusd"]


def price_file(path: Path, days: int = 700, seed: int = 5) -> Path:
    """Three assets; brent and gold each miss 6 of 700 closes (within the 1% a feed may miss)."""
    rng = np.random.default_rng(seed)
    moves = rng.multivariate_normal([2e-4, 1e-4, 0.0], [[2e-4, 6e-5, 1e-5], [6e-5, 1e-4, 0.0],
                                                        [1e-5, 0.0, 3e-5]], size=days)  # fmt: skip
    frame = pd.DataFrame(np.round(80.0 * np.exp(np.cumsum(moves, axis=0)), 6), columns=ASSETS)
    frame.iloc[[i for i in (30, 95, 160, 240, 330, 410) if i < days], 0] = np.nan
    frame.iloc[[i for i in (7, 107, 207, 307, 407, 507) if i < days], 1] = np.nan
    frame.insert(0, "date", pd.bdate_range("2014-01-01", periods=days).strftime("%Y-%m-%d"))
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    price_file(tmp_path / "prices.csv")
    return tmp_path


def books() -> list[UserPortfolio]:
    return [UserPortfolio("metals", {"gold": 1e6}), UserPortfolio("macro", {"brent": 6e5, "gold": 4e5})]


def test_hedge_requests_pair_the_assets_on_dates_both_have_a_return(here):
    history, _ = load_prices(here / "prices.csv")
    frame = pd.read_csv(here / "prices.csv")
    requests = hedge_requests(history, count=12, seed=3)
    assert [r.routing_key for r in requests[:6]] == [
        "brent/gold", "brent/eurusd", "gold/brent", "gold/eurusd", "eurusd/brent", "eurusd/gold"]
    for request in requests:
        kwargs = request.kwargs
        spot, futures = request.routing_key.split("/")
        date = request.request_id.split("@")[1].split(" ")[0]
        close = float(frame.loc[frame["date"] == date, futures].iloc[0])
        spot_close = frame.loc[frame["date"] == date, spot].iloc[0]
        before = frame.loc[frame["date"] < date, spot].dropna().iloc[-1]  # a return spans a gap
        assert kwargs["spot_returns"][-1] == pytest.approx(np.log(spot_close / before), rel=1e-12)
        assert kwargs["futures_price"] == kwargs["underlying_price"] == close  # the window's last close
        assert len(kwargs["spot_returns"]) == len(kwargs["futures_returns"]) == 250
        assert np.isfinite(kwargs["spot_returns"]).all()
        assert np.isfinite(kwargs["futures_returns"]).all()
        assert (kwargs["exposure"], kwargs["multiplier"], kwargs["rate"], kwargs["dividend_yield"]) == (
            1_000_000.0, 10.0, 0.02, 0.015)
        assert set(kwargs["book"]) == {"strikes", "expiry_days", "quantities", "is_call"}
    first = requests[0].kwargs["book"]
    assert first["strikes"] == pytest.approx([0.95 * requests[0].kwargs["underlying_price"],
                                              requests[0].kwargs["underlying_price"],
                                              1.05 * requests[0].kwargs["underlying_price"],
                                              0.90 * requests[0].kwargs["underlying_price"]])
    assert requests[6].kwargs["book"]["quantities"] == [-100.0, -100.0, 50.0, 30.0]  # second round, book B


def test_performance_requests_take_closes_on_dates_every_asset_of_the_book_has_one(here):
    history, _ = load_prices(here / "prices.csv")
    frame = pd.read_csv(here / "prices.csv").set_index("date")
    requests = performance_requests(history, books(), count=4, seed=1)
    assert [(r.routing_key, r.kwargs["risk_free_rate"]) for r in requests] == [
        ("metals", 0.0), ("macro", 0.0), ("metals", 0.02), ("macro", 0.02)]
    macro = requests[1].kwargs
    assert macro["positions"] == {"brent": 6e5, "gold": 4e5}
    end = requests[1].request_id.split("@")[1].split(" ")[0]
    complete = frame[["brent", "gold"]].dropna().loc[:end].tail(251)
    np.testing.assert_array_equal(macro["prices"]["brent"], complete["brent"].to_numpy())
    np.testing.assert_array_equal(macro["prices"]["gold"], complete["gold"].to_numpy())


def test_correlation_requests_keep_gaps_and_cycle_windows(here):
    history, _ = load_prices(here / "prices.csv")
    requests = correlation_requests(history, books(), count=6, seed=2)
    assert [r.routing_key for r in requests] == ["macro"] * 6  # a one-asset book has no correlation
    assert [len(r.kwargs["returns"]["gold"]) for r in requests] == [60, 120, 250, 60, 120, 250]
    assert sum(np.isnan(r.kwargs["returns"]["brent"]).sum() for r in requests) > 0  # gaps stay gaps


@pytest.mark.parametrize(("component", "fault", "fields"), [
    ("hedge_calculator", "hedge_ratio_error_5pct", {"tolerance:hedge_ratio", "tolerance:contracts"}),
    ("hedge_calculator", "day_count_act_360", {"tolerance:book_value", "tolerance:book_vega"}),
    ("performance_analyzer", "annualisation_252_vs_365", {"tolerance:annual_return", "tolerance:sharpe"}),
    # gold/eurusd (the third pair) is where a pairwise estimate keeps the days brent is missing
    ("correlation_analyzer", "pairwise_nan_drop", {"tolerance:upper_triangle[2]"}),
])
def test_shipped_engines_pass_on_the_users_data_and_each_fault_fails(here, capsys, component, fault, fields):
    (here / "runbook.toml").write_text(f"[components.{component}]\n{NO_TIMING}")
    args = ["validate", component, "--market-data", "prices.csv", "--historical", "60", "--json"]
    assert main(args) == 0, capsys.readouterr().out
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["source"] == "generated from market data prices.csv"
    assert report["data"]["path"] == "prices.csv"
    assert main([*args, "--inject-fault", fault]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert fields <= set(failed["failed_checks"])
    assert failed["worst_scenarios"][0]["scenario_id"].split("@")[0] in {
        "brent/gold", "brent/eurusd", "gold/brent", "gold/eurusd", "eurusd/brent", "eurusd/gold",
        "long-brent", "long-gold", "long-eurusd", "equal-weight"}


PLAIN = '''
import numpy as np


def correlations(returns):
    matrix = np.column_stack([np.asarray(r, float) for r in returns.values()])
    complete = matrix[np.isfinite(matrix).all(axis=1)]
    c = np.corrcoef(complete, rowvar=False)
    return {"upper_triangle": [c[i, j] for i in range(len(c)) for j in range(i + 1, len(c))]}


def correlations_pairwise(returns):
    series = [np.asarray(r, float) for r in returns.values()]
    out = []
    for i in range(len(series)):
        for j in range(i + 1, len(series)):
            both = np.isfinite(series[i]) & np.isfinite(series[j])
            out.append(np.corrcoef(series[i][both], series[j][both])[0, 1])
    return {"upper_triangle": out}
'''


@pytest.mark.parametrize(("candidate", "passes"), [("correlations", True), ("correlations_pairwise", False)])
def test_a_plain_correlation_function_validates_on_the_documented_keywords(here, capsys, candidate, passes):
    """``def correlations(returns)`` ({asset: returns}) against the shipped legacy, no adapter: listwise
    gap handling passes, pairwise fails on a window with a gap."""
    (here / "corr_desk.py").write_text(textwrap.dedent(PLAIN))
    (here / "runbook.toml").write_text(textwrap.dedent(f"""
        [components.desk_corr]
        kind = "correlation"
        legacy = "runbook.engines.plain:legacy_correlation"
        candidate = "corr_desk:{candidate}"
        fields = {{ "upper_triangle[0]" = {{ rel = 1e-9, abs = 1e-12 }} }}
        {NO_TIMING}"""))
    code = main(["validate", "desk_corr", "--market-data", "prices.csv", "--historical", "40", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code == 0) is passes, report["failed_checks"]
    assert report["summary"]["requests"] == 40


@pytest.mark.parametrize(("kind", "message"), [
    ("hedge", "hedge requests need two assets (spot and futures); the market data has gold"),
    ("correlation", "correlation requests need a book of two or more assets; the books hold one each "
                    "(long-gold)"),
])
def test_a_single_asset_file_is_bad_input_for_pairs(here, capsys, kind, message):
    pd.read_csv(here / "prices.csv")[["date", "gold"]].to_csv(here / "gold.csv", index=False)
    (here / "runbook.toml").write_text(textwrap.dedent(f"""
        [components.desk]
        kind = "{kind}"
        legacy = "runbook.engines.plain:legacy_correlation"
        candidate = "runbook.engines.plain:candidate_correlation"
        """))
    assert main(["validate", "desk", "--market-data", "gold.csv", "--historical", "10"]) == 2
    assert message in capsys.readouterr().err


def test_too_short_a_history_for_the_windows_is_named(tmp_path):
    path = price_file(tmp_path / "short.csv", days=200)
    history, _ = load_prices(path)
    with pytest.raises(BadInputData, match="market data has 199 returns; a 250-day window needs more"):
        correlation_requests(history, books(), count=3)
    pairs = r"brent/gold, brent/eurusd, gold/brent, gold/eurusd, eurusd/brent, eurusd/gold"
    with pytest.raises(BadInputData, match=rf"hedge pair\(s\) {pairs}: fewer than 250 dates"):
        hedge_requests(history, count=1)
    with pytest.raises(BadInputData, match="'metals': 198 dates with a close for all of gold; a 251-day"):
        performance_requests(history, books(), count=1)
