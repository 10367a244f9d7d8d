"""Market history loading: the bundled real data, gap policies, and bad data named before use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runbook.errors import BadInputData
from runbook.scenarios.loader import GapPolicy, bundled_path, load_market_history


def test_bundled_history_shape_and_gaps():
    """5,031 real trading days 1999-2018, three series, 19 WTI gaps kept as NaN."""
    history = load_market_history()
    assert len(history) == 5031
    assert history.assets == ("spx", "nasdaq", "wti")
    assert str(history.dates[0]) == "1999-01-04"
    assert str(history.dates[-1]) == "2018-12-31"
    assert history.gap_count == 19
    assert np.isnan(history.prices[:, 2]).sum() == 19
    assert len(history.gap_dates) == 19


def test_market_history_frame_columns():
    """The frame has exactly the market_history contract columns."""
    frame = load_market_history().frame()
    assert list(frame.columns) == ["date", "spx_close", "nasdaq_close", "wti_close"]
    assert frame["wti_close"].isna().sum() == 19


def test_gap_policies():
    """drop removes the 19 gap dates; error refuses them naming the first dates."""
    assert len(load_market_history(gaps=GapPolicy.DROP)) == 5031 - 19
    with pytest.raises(BadInputData, match="19 date\\(s\\) with missing closes: 1999-12-31"):
        load_market_history(gaps="error")
    with pytest.raises(BadInputData, match="unknown gap policy"):
        load_market_history(gaps="fill")


def test_log_returns_span_gaps():
    """The WTI return after a gap runs from the last valid close; the gap day has no return."""
    history = load_market_history()
    returns = history.log_returns()
    wti = history.prices[:, 2]
    gap = int(np.flatnonzero(np.isnan(wti))[0])
    after = gap + int(np.flatnonzero(np.isfinite(wti[gap:]))[0])
    assert np.isnan(returns[gap - 1 : after - 1, 2]).all()
    expected = np.log(wti[after] / wti[gap - 1])
    assert returns[after - 1, 2] == pytest.approx(expected, rel=1e-12)


def _frame(rows: int = 40) -> pd.DataFrame:
    dates = pd.bdate_range("2020-01-01", periods=rows)
    return pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "a_close": np.linspace(10, 20, rows),
            "b_close": np.linspace(5, 6, rows),
        }
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.assign(a_close=f["a_close"].where(f.index != 3, -1.0)), "non-positive"),
        (lambda f: f.assign(b_close=f["b_close"].where(f.index != 7, 0.0)), "non-positive"),
        (lambda f: pd.concat([f, f.iloc[[5]]]).sort_values("date"), "duplicated dates"),
        (lambda f: f.iloc[::-1], "not sorted"),
        (lambda f: f.iloc[:5], "at least 30"),
        (lambda f: f.drop(columns=["date"]), "'date'"),
        (lambda f: f.assign(a_close="x"), "non-numeric"),
        (lambda f: f.assign(date="not a date"), "unparseable dates"),
    ],
)
def test_bad_market_data_is_named(tmp_path, mutate, message):
    """Non-positive prices, duplicated or unsorted dates, too few rows, bad columns: BadInputData."""
    path = tmp_path / "history.csv"
    mutate(_frame()).to_csv(path, index=False)
    with pytest.raises(BadInputData, match=message):
        load_market_history(path)


def test_nan_price_refused_under_error_policy(tmp_path):
    """An explicit NaN close is a gap: refused with gaps='error', counted with gaps='keep'."""
    path = tmp_path / "history.csv"
    _frame().assign(a_close=lambda f: f["a_close"].where(f.index != 4, np.nan)).to_csv(path, index=False)
    assert load_market_history(path).gap_count == 1
    with pytest.raises(BadInputData, match="missing closes"):
        load_market_history(path, gaps="error")


def test_missing_file():
    """A path that does not exist is named."""
    with pytest.raises(BadInputData, match="does not exist"):
        load_market_history("/nonexistent/history.csv")


def test_parquet_and_sql_sources_load_the_same_data(tmp_path):
    """The same frame loads from Parquet and from a SQL table."""
    import sqlalchemy

    frame = pd.read_csv(bundled_path()).iloc[:300]
    frame.to_parquet(tmp_path / "h.parquet")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = sqlalchemy.create_engine(url)
    frame.to_sql("market_history", engine, index=False)
    engine.dispose()
    from_parquet = load_market_history(tmp_path / "h.parquet")
    from_sql = load_market_history(url, table="market_history")
    np.testing.assert_array_equal(from_parquet.prices, from_sql.prices)
    assert len(from_sql) == 300
