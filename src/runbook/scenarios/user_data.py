"""A firm's own data: a price file (a date column and one price column per asset) and portfolios.

Prices: CSV or Parquet; the date column is ``date`` unless the catalog maps another name; every
other column is an asset named after its column; an empty cell is a missing close and stays one
(never filled). Portfolios: CSV (``portfolio,asset,position``) or JSON
(``{"book": {"asset": position}}``), positions in currency (short negative); without a file, one
long position of 1,000,000 per asset and an equal-weight book of 1,000,000.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runbook.errors import BadInputData
from runbook.scenarios.loader import MarketHistory, bundled_path, from_frame

DEFAULT_POSITION = 1_000_000.0


@dataclass(frozen=True, slots=True)
class DataInfo:
    """Which market data a validation ran on (the report's ``data`` block)."""

    path: str
    rows: int
    first_date: str
    last_date: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "first_date": self.first_date,
                "last_date": self.last_date, "sha256": self.sha256}  # fmt: skip


@dataclass(frozen=True, slots=True)
class UserPortfolio:
    """Positions in currency by asset (short negative)."""

    portfolio_id: str
    positions: dict[str, float]


def load_prices(path: str | Path, *, date_column: str = "date") -> tuple[MarketHistory, DataInfo]:
    """The price file at ``path`` as market history (assets named after their columns), and its info."""
    file = Path(path)
    frame = _read_table(file, "market data")
    if date_column not in frame.columns:
        raise BadInputData(
            f"market data {str(file)!r} has no date column {date_column!r} (columns: "
            f"{', '.join(map(str, frame.columns))}); name it in the catalog: [data] date_column = \"...\""
        )
    assets = [str(c) for c in frame.columns if c != date_column]
    if not assets:
        raise BadInputData(f"market data {str(file)!r} has no price column besides {date_column!r}")
    renamed = frame.rename(columns={date_column: "date", **{a: f"{a}_close" for a in assets}})
    try:
        history = from_frame(renamed[["date", *(f"{a}_close" for a in assets)]])
    except BadInputData as exc:
        raise BadInputData(f"market data {str(file)!r}: {exc}") from None
    info = DataInfo(str(file), len(history), str(history.dates[0]), str(history.dates[-1]), _sha256(file))
    return history, info


def bundled_info() -> DataInfo:
    """The ``data`` block of the bundled market history."""
    from runbook.scenarios.loader import load_market_history

    history = load_market_history()
    path = bundled_path()
    return DataInfo(str(path), len(history), str(history.dates[0]), str(history.dates[-1]), _sha256(path))


def load_portfolios(path: str | Path | None, assets: tuple[str, ...]) -> list[UserPortfolio]:
    """Portfolios from ``path`` (CSV or JSON), or the defaults over ``assets``; checked against them."""
    if path is None:
        singles = [UserPortfolio(f"long-{asset}", {asset: DEFAULT_POSITION}) for asset in assets]
        equal = {asset: DEFAULT_POSITION / len(assets) for asset in assets}
        return [*singles, UserPortfolio("equal-weight", equal)] if len(assets) > 1 else singles
    file = Path(path)
    books = _json_books(file) if file.suffix.lower() == ".json" else _csv_books(file)
    if not books:
        raise BadInputData(f"portfolios {str(file)!r} hold no positions")
    for book in books:
        unknown = sorted(set(book.positions) - set(assets))
        if unknown:
            raise BadInputData(
                f"portfolio {book.portfolio_id!r} in {str(file)!r} holds {', '.join(unknown)}, not in the "
                f"market data (assets: {', '.join(assets)})"
            )
    return books


def _json_books(file: Path) -> list[UserPortfolio]:
    try:
        raw = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise BadInputData(f"cannot read portfolios {str(file)!r}: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise BadInputData(f"portfolios {str(file)!r} must be {{\"book\": {{\"asset\": position}}}}")
    try:
        return [UserPortfolio(str(k), {str(a): float(p) for a, p in v.items()}) for k, v in raw.items()]
    except (TypeError, ValueError) as exc:
        raise BadInputData(f"portfolios {str(file)!r}: a position is not a number ({exc})") from None


def _csv_books(file: Path) -> list[UserPortfolio]:
    frame = _read_table(file, "portfolios")
    needed = {"portfolio", "asset", "position"}
    if not needed <= set(frame.columns):
        raise BadInputData(f"portfolios {str(file)!r} need columns portfolio, asset, position; "
                           f"got {', '.join(map(str, frame.columns))}")  # fmt: skip
    positions = pd.to_numeric(frame["position"], errors="coerce")
    if positions.isna().any():
        row = int(positions.isna().to_numpy().argmax())
        raise BadInputData(f"portfolios {str(file)!r}: row {row} has no numeric position")
    books: dict[str, dict[str, float]] = {}
    for book, asset, position in zip(frame["portfolio"], frame["asset"], positions, strict=True):
        books.setdefault(str(book), {})[str(asset)] = float(position)
    return [UserPortfolio(book, held) for book, held in books.items()]


def _read_table(file: Path, what: str) -> pd.DataFrame:
    if not file.is_file():
        raise BadInputData(f"{what} file {str(file)!r} does not exist")
    try:
        if file.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(file)
        return pd.read_csv(file)
    except Exception as exc:  # noqa: BLE001 - pandas raises many types on a bad file: one BadInputData line
        raise BadInputData(f"cannot read {what} {str(file)!r}: {exc}") from None


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def asset_returns(history: MarketHistory) -> dict[str, np.ndarray]:
    """Daily log returns per asset (NaN on a missing close; the next return spans the gap)."""
    returns = history.log_returns()
    return {asset: returns[:, i] for i, asset in enumerate(history.assets)}
