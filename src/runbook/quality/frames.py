"""Pandas frames the data-quality suites check: column contracts, builders, readers, derived columns.

Only pandas and numpy here. Derived columns (daily log returns, calendar gaps, the contracts
residual) are what a suite file may ask the runner to add before Great Expectations sees the frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from runbook.domain.observation import Observation
from runbook.errors import BadInputData

__all__ = [
    "DATE_COLUMNS",
    "ENGINE_OUTPUT_COLUMNS",
    "MARKET_HISTORY_COLUMNS",
    "OBSERVATION_COLUMNS",
    "READABLE_SUFFIXES",
    "SCENARIO_COLUMNS",
    "as_dates",
    "derive_column",
    "observations_frame",
    "read_frame",
]

MARKET_HISTORY_COLUMNS = ("date", "spx_close", "nasdaq_close", "wti_close")
SCENARIO_COLUMNS = (
    "scenario_id", "kind", "as_of", "portfolio_id", "n_assets", "window_days", "weight_sum", "notional",
)
ENGINE_OUTPUT_COLUMNS = (
    "scenario_id", "component", "engine", "var", "es", "hedge_ratio", "contracts", "contract_size",
    "exposure", "value",
)
OBSERVATION_COLUMNS = tuple(field.name for field in dataclasses.fields(Observation))
_OBSERVATION_FLOATS = ("at", "legacy_latency_us", "candidate_latency_us", "abs_difference", "rel_difference")

# Columns holding calendar dates; a CSV carries them as text, the suites compare them as dates.
DATE_COLUMNS = ("date", "as_of")
READABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def observations_frame(observations: Iterable[Observation]) -> pd.DataFrame:
    """One row per observation, columns exactly the fields of ``Observation`` (enums as plain text)."""
    rows = [
        tuple(_plain(getattr(observation, name)) for name in OBSERVATION_COLUMNS)
        for observation in observations
    ]
    frame = pd.DataFrame.from_records(rows, columns=list(OBSERVATION_COLUMNS))
    # Missing measurements are None on the dataclass; as float64 they become NaN, which GX treats as missing.
    return frame.astype(dict.fromkeys(_OBSERVATION_FLOATS, "float64"))


def _plain(value: object) -> object:
    # StrEnum members are str subclasses; a plain str keeps the frame's text columns uniform.
    return str(value) if isinstance(value, str) else value


def read_frame(path: Path | str) -> pd.DataFrame:
    """Read a CSV or Parquet file; ``date``/``as_of`` text columns become dates when they all parse.

    Raises ``BadInputData`` naming the file for a missing file, an unknown suffix or an unreadable body.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READABLE_SUFFIXES:
        raise BadInputData(f"{path}: unsupported file type {suffix or '(none)'!r}; allowed: csv, parquet")
    if not path.is_file():
        raise BadInputData(f"{path}: no such file")
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:
        raise BadInputData(f"{path}: cannot read as {suffix[1:]}: {exc}") from exc
    for column in DATE_COLUMNS:
        if column in frame.columns:
            frame[column] = as_dates(frame[column])
    return frame


def as_dates(column: pd.Series) -> pd.Series:
    """Text dates as datetimes when every one parses (ISO 8601); anything else as it is."""
    if pd.api.types.is_datetime64_any_dtype(column) or column.notna().sum() == 0:
        return column
    try:
        return pd.to_datetime(column, format="ISO8601")
    except (ValueError, TypeError):
        # Left as text on purpose: the suite then reports the rows instead of the reader guessing.
        return column


def _log_return(frame: pd.DataFrame, column: str) -> pd.Series:
    """log(p_t / p_prev), p_prev the last valid price before t; non-positive prices give NaN."""
    prices = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    prices = prices.where(np.isfinite(prices) & (prices > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(prices)
    return logs - logs.ffill().shift(1)


def _calendar_gap_days(frame: pd.DataFrame, column: str) -> pd.Series:
    """Calendar days since the previous row's date (NaN for the first row and unparsable dates)."""
    dates = pd.to_datetime(frame[column], errors="coerce")
    return dates.diff().dt.total_seconds() / 86_400.0


def _contracts_residual(frame: pd.DataFrame, column: str) -> pd.Series:
    """contracts - hedge_ratio * exposure / contract_size, in contracts (``column`` names contracts).

    NaN where neither side is given (not a hedge output); +inf where only one is, which no bound accepts.
    """
    contracts = pd.to_numeric(frame[column], errors="coerce")
    implied = frame["hedge_ratio"] * frame["exposure"] / frame["contract_size"]
    residual = contracts - implied
    return residual.mask(contracts.isna() != implied.isna(), np.inf)


# Operations a suite file may name in meta.runbook.derived_columns: name -> (function, input columns).
DERIVATIONS: dict[str, tuple[Callable[[pd.DataFrame, str], pd.Series], tuple[str, ...]]] = {
    "log_return": (_log_return, ()),
    "calendar_gap_days": (_calendar_gap_days, ()),
    "contracts_residual": (_contracts_residual, ("hedge_ratio", "exposure", "contract_size")),
}


def derive_column(frame: pd.DataFrame, *, op: str, column: str) -> pd.Series:
    """The derived series ``op`` computes from ``column`` (and the fixed inputs the op needs)."""
    function, _ = DERIVATIONS[op]
    return function(frame, column)
