"""Input checks shared by the engines: each raises BadInputData naming the problem, before any maths."""

from __future__ import annotations

import numpy as np

from runbook.errors import BadInputData


def as_array(name: str, values: object, *, ndim: int, allow_nan: bool = False) -> np.ndarray:
    """``values`` as a read-only float64 array of ``ndim`` dimensions, finite unless NaN is allowed."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadInputData(f"{name} is not numeric: {exc}") from None
    if array.ndim != ndim:
        raise BadInputData(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if array.size == 0 or array.shape[-1 if ndim == 1 else 0] == 0:
        raise BadInputData(f"{name} is empty (shape {array.shape}); an empty window cannot be used")
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        what = "infinite" if allow_nan else "NaN or infinite"
        raise BadInputData(f"{name} has {int(bad.sum())} {what} value(s), first at index {first}")
    array.setflags(write=False)
    return array


def positive_prices(name: str, prices: np.ndarray) -> None:
    """Raise if any (non-missing) price is zero or negative."""
    bad = prices <= 0
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise BadInputData(
            f"{name} has {int(bad.sum())} non-positive price(s), first {prices[first]!r} at index {first}; "
            "prices must be > 0"
        )


def min_length(name: str, length: int, minimum: int) -> None:
    """Raise if a window has fewer than ``minimum`` observations."""
    if length < minimum:
        raise BadInputData(f"{name} has {length} observation(s); at least {minimum} are needed")


def same_length(name: str, length: int, other_name: str, other: int) -> None:
    """Raise if two arrays that must line up do not."""
    if length != other:
        raise BadInputData(f"mismatched shapes: {name} has {length} rows but {other_name} has {other}")


def probability(name: str, value: float) -> float:
    """``value`` if it lies in the open interval (0, 1)."""
    if not 0.0 < float(value) < 1.0:
        raise BadInputData(f"{name} {value!r} must lie in the open interval (0, 1)")
    return float(value)


def positive(name: str, value: float) -> float:
    """``value`` if it is a finite number > 0."""
    if not np.isfinite(value) or float(value) <= 0.0:
        raise BadInputData(f"{name} {value!r} must be a finite number > 0")
    return float(value)


def horizon(value: int) -> int:
    """A holding period in trading days, >= 1."""
    if int(value) != value or int(value) < 1:
        raise BadInputData(f"horizon_days {value!r} must be an integer >= 1")
    return int(value)
