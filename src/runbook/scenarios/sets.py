"""ScenarioSet: scenarios as columns (the GX ``scenarios`` frame contract) plus the engine batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HISTORICAL, MONTE_CARLO = "historical", "monte_carlo"


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioSet:
    """Scenarios ``start`` .. ``start + len - 1`` of one kind, described per scenario, and their batch.

    ``portfolio_index`` points into ``portfolio_ids``; ``as_of`` is NaT for Monte Carlo draws;
    ``notional`` in currency; ``window_days`` is the estimation window behind each scenario.
    """

    kind: str
    portfolio_ids: tuple[str, ...]
    portfolio_index: np.ndarray
    as_of: np.ndarray
    n_assets: np.ndarray
    window_days: np.ndarray
    weight_sum: np.ndarray
    notional: np.ndarray
    batch: object
    start: int = 0

    def __len__(self) -> int:
        return int(self.portfolio_index.shape[0])

    def ids(self) -> np.ndarray:
        """Unique scenario ids: ``H000123`` (historical) or ``M0001234`` (Monte Carlo)."""
        prefix, width = ("H", 6) if self.kind == HISTORICAL else ("M", 7)
        numbers = np.arange(self.start, self.start + len(self))
        return np.char.add(prefix, np.char.zfill(numbers.astype(str), width))

    def portfolio_labels(self) -> np.ndarray:
        """Portfolio id of every scenario."""
        return np.asarray(self.portfolio_ids, dtype=object)[self.portfolio_index]

    def frame(self):
        """The scenario frame: scenario_id, kind, as_of, portfolio_id, n_assets, window_days,
        weight_sum, notional."""
        import pandas as pd

        return pd.DataFrame(
            {
                "scenario_id": self.ids().astype(object),
                "kind": self.kind,
                "as_of": pd.to_datetime(self.as_of),
                "portfolio_id": self.portfolio_labels(),
                "n_assets": self.n_assets.astype(np.int64),
                "window_days": self.window_days.astype(np.int64),
                "weight_sum": self.weight_sum.astype(np.float64),
                "notional": self.notional.astype(np.float64),
            }
        )


def per_portfolio(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Expand per-portfolio values to per-scenario values."""
    return np.asarray(values)[index]


def constant(value: float, size: int, dtype: type = np.float64) -> np.ndarray:
    """A column with one value."""
    return np.full(size, value, dtype=dtype)
