"""Frames for the data-quality suites: the observation frame contract, file reading, derived columns."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.errors import BadInputData
from runbook.quality.frames import OBSERVATION_COLUMNS, derive_column, observations_frame, read_frame


def _observation(**changes: object) -> Observation:
    base = Observation(component="var_engine", mode="shadow", route=Route.LEGACY, routing_key="book-1",
                       at=1_767_225_600.0, legacy_latency_us=120.0, candidate_latency_us=None)
    return dataclasses.replace(base, **changes)


def test_observations_frame_columns_are_the_observation_fields() -> None:
    """The frame's columns are exactly Observation's fields, in order."""
    frame = observations_frame([_observation()])
    fields = tuple(f.name for f in dataclasses.fields(Observation))
    assert tuple(frame.columns) == fields == OBSERVATION_COLUMNS


def test_observations_frame_plain_values() -> None:
    """Enums become their text, missing measurements NaN in float columns."""
    frame = observations_frame([_observation(error_kind=ErrorKind.TIMEOUT),
                                _observation(rel_difference=3e-6)])
    assert list(frame["route"]) == ["legacy", "legacy"]
    assert list(frame["error_kind"]) == ["timeout", "none"]
    assert type(frame.loc[0, "error_kind"]) is str
    assert frame["candidate_latency_us"].dtype == np.float64
    assert math.isnan(frame.loc[0, "rel_difference"])
    assert frame.loc[1, "rel_difference"] == 3e-6


def test_observations_frame_empty() -> None:
    """No observations give an empty frame that still has every column."""
    frame = observations_frame([])
    assert len(frame) == 0
    assert tuple(frame.columns) == OBSERVATION_COLUMNS


def test_read_csv_parses_dates(tmp_path: Path) -> None:
    """ISO dates in a CSV come back as datetimes; other columns as written."""
    path = tmp_path / "m.csv"
    path.write_text("date,spx_close\n2008-10-09,909.92\n2008-10-10,899.22\n", encoding="utf-8")
    frame = read_frame(path)
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert frame["date"].iloc[1] == pd.Timestamp("2008-10-10")
    assert frame["spx_close"].tolist() == [909.92, 899.22]


def test_read_csv_keeps_unparsable_dates_as_text(tmp_path: Path) -> None:
    """A column that does not parse as dates is left as written, for the suite to report."""
    path = tmp_path / "m.csv"
    path.write_text("date,spx_close\n2008-10-09,1\nyesterday,2\n", encoding="utf-8")
    assert read_frame(path)["date"].tolist() == ["2008-10-09", "yesterday"]


@pytest.mark.parametrize(("name", "create", "message"), [
    ("m.xlsx", True, "unsupported file type '.xlsx'; allowed: csv, parquet"),
    ("m.csv", False, "no such file"),
    ("m.parquet", True, "cannot read as parquet"),
])
def test_read_frame_refuses(tmp_path: Path, name: str, create: bool, message: str) -> None:
    """Unknown suffix, missing file or unreadable body: BadInputData naming the file."""
    path = tmp_path / name
    if create:
        path.write_text("not a table", encoding="utf-8")
    with pytest.raises(BadInputData, match=message) as caught:
        read_frame(path)
    assert str(path) in str(caught.value)


def test_log_return_spans_gaps_and_skips_bad_prices() -> None:
    """Log moves are taken from the last valid price; non-positive prices give NaN without a warning."""
    frame = pd.DataFrame({"p": [100.0, np.nan, 110.0, -5.0, 121.0, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moves = derive_column(frame, op="log_return", column="p")
    expected = [np.nan, np.nan, math.log(1.1), np.nan, math.log(1.1), np.nan]
    np.testing.assert_allclose(moves.to_numpy(), expected, equal_nan=True)


def test_calendar_gap_days() -> None:
    """Calendar days between consecutive rows: a weekend is 3, the 9/11 closure 7."""
    dates = pd.to_datetime(["2001-09-07", "2001-09-10", "2001-09-17"])
    gaps = derive_column(pd.DataFrame({"date": dates}), op="calendar_gap_days", column="date")
    np.testing.assert_array_equal(gaps.to_numpy(), [np.nan, 3.0, 7.0])


def test_contracts_residual_on_hulls_hedge() -> None:
    """Hull: h*=0.96, 10,000 units, futures of 500 units -> N*=19.2; 19 contracts leave -0.2."""
    frame = pd.DataFrame({"contracts": [19.2, 19.0], "hedge_ratio": 0.96, "exposure": 10_000.0,
                          "contract_size": 500.0})
    residual = derive_column(frame, op="contracts_residual", column="contracts")
    np.testing.assert_allclose(residual.to_numpy(), [0.0, -0.2], atol=1e-12)


def test_contracts_residual_one_side_missing() -> None:
    """Neither side given: NaN (not a hedge row); contracts or hedge ratio alone: +inf (inconsistent)."""
    frame = pd.DataFrame({"contracts": [np.nan, np.nan, 19.2], "hedge_ratio": [np.nan, 0.96, np.nan],
                          "exposure": 10_000.0, "contract_size": [np.nan, 500.0, 500.0]})
    residual = derive_column(frame, op="contracts_residual", column="contracts")
    np.testing.assert_array_equal(residual.to_numpy(), [np.nan, np.inf, np.inf])
