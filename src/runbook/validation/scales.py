"""What each metric's relative tolerance is relative to.

By default a difference is scaled by the legacy value itself. A residual, a difference of two
near-equal quantities such as a hedged P&L, is scaled by the exposures it nets instead: relative
to itself, an immaterial 1e-9 change of the hedge ratio is a large change of a near-zero residual
and fails (a false alarm), while relative to the legs it nets it is 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Scale:
    """How to get a metric's scale from the legacy engine's outputs, and what to call it."""

    description: str
    of: Callable[[Mapping[str, np.ndarray]], np.ndarray]


def _gross_legs(outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    unhedged = np.abs(outputs["unhedged_pnl"])
    return unhedged + np.abs(outputs["hedged_pnl"] - outputs["unhedged_pnl"])


SCALES: dict[str, Scale] = {
    "hedged_pnl": Scale(
        "|unhedged P&L| + |hedge P&L| of the legacy engine (the two legs the hedged P&L nets)",
        _gross_legs,
    ),
}
OWN_VALUE = "|legacy value|"


def describe(metric: str) -> str:
    """What ``metric``'s tolerance is relative to."""
    scale = SCALES.get(metric)
    return scale.description if scale else OWN_VALUE


def scale_of(metric: str, legacy: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The scale array of ``metric`` from the legacy outputs (None: the legacy value itself)."""
    scale = SCALES.get(metric)
    if scale is None or not all(name in legacy for name in ("hedged_pnl", "unhedged_pnl")):
        return None
    return np.abs(np.asarray(scale.of(legacy), float))
