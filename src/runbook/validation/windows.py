"""Estimation windows historical scenarios are cut with, several per component where it matters.

Historical VaR interpolates at position (n - 1) * c of the n sorted losses. Where that position is
not an integer (250 days at 95%, 97.5%, 99%), VaR lies strictly between two losses and ES "losses
>= VaR" equals ES "losses > VaR": a changed tail rule would pass. Where it is an integer (201 days at
95%, 97.5% and 99%; 501 days at 95% and 99%), VaR is one of the losses and the rule shows. So VaR is
validated on three window lengths, the scenarios split evenly across them.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from runbook.domain.components import Component
from runbook.errors import BadParameter
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.sets import ScenarioSet

DEFAULT_WINDOWS: dict[Component, tuple[int, ...]] = {Component.VAR_ENGINE: (250, 201, 501)}
MIN_WINDOW = 20


def windows_for(component: Component, windows: tuple[int, ...] | None) -> tuple[int, ...]:
    """The windows to use: the caller's, else the component's default (empty: the builder's own)."""
    return tuple(windows) if windows else DEFAULT_WINDOWS.get(component, ())


def historical_sets(
    adapter: object, history: MarketHistory, count: int, seed: int, windows: tuple[int, ...] | None = None
) -> list[ScenarioSet]:
    """``count`` historical scenarios split evenly across the windows, numbered consecutively."""
    build = adapter.historical  # type: ignore[attr-defined]
    chosen = windows_for(adapter.component, windows)  # type: ignore[attr-defined]
    if not chosen:
        return [build(history, count=count, seed=seed)]
    if "window" not in inspect.signature(build).parameters:
        raise BadParameter(
            f"windows apply to components whose scenarios have one window; "
            f"{adapter.component.value} has its own"  # type: ignore[attr-defined]
        )
    bad = [w for w in chosen if w < MIN_WINDOW]
    if bad:
        raise BadParameter(f"window {bad[0]} is too short: windows must be >= {MIN_WINDOW} days")
    shares = np.diff(np.linspace(0, count, len(chosen) + 1).round().astype(int))
    sets, start = [], 0
    for window, share in zip(chosen, shares, strict=True):
        if share:
            built = build(history, count=int(share), seed=seed, window=window)
            sets.append(dataclasses.replace(built, start=start))
            start += int(share)
    return sets
