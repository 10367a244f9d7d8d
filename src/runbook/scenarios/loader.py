"""Load market history (CSV, Parquet or a SQL table) with explicit handling of gaps.

The frame contract (GX suite ``market_history``): ``date`` then one ``<name>_close`` column per
series, NaN where a close is missing. Bad data (unparseable, duplicated or unsorted dates,
non-positive prices, too few rows) raises ``BadInputData`` naming the problem; gaps are kept,
dropped or refused according to ``gaps`` and always counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from runbook.errors import BadInputData

BUNDLED = "market_history.csv"
ASSETS = ("spx", "nasdaq", "wti")


class GapPolicy(StrEnum):
    """What to do with missing closes."""

    KEEP = "keep"  # keep NaN; return calculations span the gap
    DROP = "drop"  # drop every date on which any series is missing
    ERROR = "error"  # refuse data with gaps


@dataclass(frozen=True, slots=True, eq=False)
class MarketHistory:
    """Daily closes: ``dates`` (datetime64[D], strictly increasing), ``prices`` (dates, assets)."""

    dates: np.ndarray
    prices: np.ndarray
    assets: tuple[str, ...]
    gap_dates: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.dates.shape[0]

    @property
    def gap_count(self) -> int:
        """Missing closes in ``prices`` (0 after GapPolicy.DROP)."""
        return int(np.isnan(self.prices).sum())

    def log_returns(self) -> np.ndarray:
        """(dates - 1, assets) daily log returns; NaN on a missing close, the next return spans the gap."""
        out = np.full((len(self) - 1, len(self.assets)), np.nan)
        for column in range(len(self.assets)):
            series = self.prices[:, column]
            valid = np.flatnonzero(np.isfinite(series))
            out[valid[1:] - 1, column] = np.diff(np.log(series[valid]))
        return out

    def complete(self) -> MarketHistory:
        """The same history with every date that has a missing close dropped."""
        keep = np.isfinite(self.prices).all(axis=1)
        return MarketHistory(self.dates[keep], self.prices[keep], self.assets, self.gap_dates)

    def frame(self) -> pd.DataFrame:
        """The market history frame: ``date`` and ``<asset>_close`` columns."""
        data = {f"{asset}_close": self.prices[:, i] for i, asset in enumerate(self.assets)}
        return pd.DataFrame({"date": pd.to_datetime(self.dates), **data})


def bundled_path() -> Path:
    """Path of the real data shipped with the package (S&P 500, NASDAQ, WTI; 1999-2018)."""
    return Path(str(resources.files("runbook.scenarios") / "data" / BUNDLED))


def load_market_history(
    source: str | Path | pd.DataFrame | None = None,
    *,
    gaps: GapPolicy | str = GapPolicy.KEEP,
    table: str | None = None,
    min_rows: int = 30,
) -> MarketHistory:
    """Market history from the bundled CSV, a CSV/Parquet path, a frame, or a SQL URL plus ``table``."""
    policy = _policy(gaps)
    frame = _read(source, table)
    return from_frame(frame, gaps=policy, min_rows=min_rows)


def _policy(gaps: GapPolicy | str) -> GapPolicy:
    try:
        return GapPolicy(gaps)
    except ValueError:
        allowed = ", ".join(p.value for p in GapPolicy)
        raise BadInputData(f"unknown gap policy {gaps!r}; allowed: {allowed}") from None


def _read(source: str | Path | pd.DataFrame | None, table: str | None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if table is not None:
        import sqlalchemy

        engine = sqlalchemy.create_engine(str(source))
        try:
            return pd.read_sql_table(table, engine)
        except Exception as exc:  # noqa: BLE001 - any reader error is one BadInputData naming the table
            raise BadInputData(f"cannot read table {table!r} from {source!r}: {exc}") from None
        finally:
            engine.dispose()
    path = bundled_path() if source is None else Path(source)
    if not path.exists():
        raise BadInputData(f"market history file {str(path)!r} does not exist")
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    return pd.read_csv(path)


def from_frame(frame: pd.DataFrame, *, gaps: GapPolicy = GapPolicy.KEEP, min_rows: int = 30) -> MarketHistory:
    """Check and convert a market history frame (``date`` + ``*_close`` columns)."""
    closes = [column for column in frame.columns if str(column).endswith("_close")]
    if "date" not in frame.columns or not closes:
        raise BadInputData(f"market history needs a 'date' and '*_close' columns; got {list(frame.columns)}")
    dates = _dates(frame["date"])
    prices = _prices(frame, closes)
    gap_rows = ~np.isfinite(prices).all(axis=1)
    gap_dates = tuple(str(d) for d in dates[gap_rows])
    if gaps is GapPolicy.ERROR and gap_dates:
        shown = ", ".join(gap_dates[:5]) + (" ..." if len(gap_dates) > 5 else "")
        raise BadInputData(f"market history has {len(gap_dates)} date(s) with missing closes: {shown}")
    if gaps is GapPolicy.DROP:
        dates, prices = dates[~gap_rows], prices[~gap_rows]
    if len(dates) < min_rows:
        raise BadInputData(f"market history has {len(dates)} usable rows; at least {min_rows} are needed")
    assets = tuple(str(column)[: -len("_close")] for column in closes)
    return MarketHistory(dates, prices, assets, gap_dates)


def _dates(column: pd.Series) -> np.ndarray:
    try:
        parsed = pd.to_datetime(column, format="ISO8601")
    except (ValueError, TypeError):
        try:
            parsed = pd.to_datetime(column, format="mixed")
        except (ValueError, TypeError) as exc:
            raise BadInputData(f"market history has unparseable dates: {exc}") from None
    dates = parsed.to_numpy().astype("datetime64[D]")
    if np.isnat(dates).any():
        raise BadInputData(f"market history has {int(np.isnat(dates).sum())} missing date(s)")
    step = np.diff(dates).astype(np.int64)
    if (step == 0).any():
        raise BadInputData(f"market history has duplicated dates, first {dates[1:][step == 0][0]}")
    if (step < 0).any():
        raise BadInputData(
            f"market history dates are not sorted ascending, first break at {dates[1:][step < 0][0]}"
        )
    return dates


def _prices(frame: pd.DataFrame, closes: list[str]) -> np.ndarray:
    try:
        prices = frame[closes].apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise BadInputData(f"market history has non-numeric prices: {exc}") from None
    if np.isinf(prices).any():
        raise BadInputData("market history has infinite prices")
    bad = prices <= 0
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise BadInputData(
            f"market history has {int(bad.sum())} non-positive price(s), first {prices[row, column]!r} "
            f"in {closes[column]} on row {row}; prices must be > 0"
        )
    return prices
