"""Generic comparison and validity checks of engine results.

Handles numbers, sequences, mappings, dataclasses of numbers and numpy arrays (numpy is imported
only when a value already is an array). Engines with richer results pass their own ``compare``
and ``validate`` to the Router.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

__all__ = ["default_compare", "default_validate", "structure_mismatch"]

# Denominator floor of the relative difference (a result of exact zeros compares as rel 0 or huge).
_TINY = 1e-300
_MAX_DEPTH = 32
_FIELDS: dict[type, tuple[str, ...]] = {}


def default_compare(old: object, new: object) -> tuple[float, float]:
    """(abs_difference, rel_difference) of two results of the same structure.

    abs = max over every number of |new - old|, in the result's units; rel = abs / max(max |old|,
    tiny), i.e. relative to the result's magnitude. Leaves that are not numbers (strings, None)
    count as 0 when equal and inf when different; a structure that differs gives (inf, inf).
    """
    largest_abs = 0.0
    largest_old = 0.0
    for old_leaf, new_leaf in _paired_leaves(old, new, 0):
        diff, magnitude = _leaf_difference(old_leaf, new_leaf)
        largest_abs = max(largest_abs, diff)
        largest_old = max(largest_old, magnitude)
    if math.isnan(largest_abs):
        return math.inf, math.inf
    return largest_abs, largest_abs / max(largest_old, _TINY)


def default_validate(value: object) -> str | None:
    """None when every number in ``value`` is finite; else the reason (first NaN/inf found, where)."""
    return _first_non_finite(value, "result", 0)


def structure_mismatch(old: object, new: object) -> str | None:
    """None when ``new`` has the type and shape of ``old`` (numbers of any kind match numbers)."""
    return _mismatch(old, new, "result", 0)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) or (
        hasattr(value, "__float__") and not hasattr(value, "__len__") and not isinstance(value, str)
    )


def _is_array(value: object) -> bool:
    # numpy scalars (float64, int64) have __array__ and shape too, but no __len__: they are numbers
    return hasattr(value, "__array__") and hasattr(value, "shape") and hasattr(value, "__len__")


def _is_sequence(value: object) -> bool:
    return isinstance(value, list | tuple)


def _field_names(value: object) -> tuple[str, ...]:
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(value))  # type: ignore[arg-type]
        _FIELDS[cls] = names
    return names


def _is_dataclass_instance(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _children(value: object) -> Iterator[tuple[str, object]] | None:
    """(label, child) pairs of a container, or None for a leaf."""
    if _is_dataclass_instance(value):
        return ((name, getattr(value, name)) for name in _field_names(value))
    if isinstance(value, Mapping):
        return ((repr(key), item) for key, item in value.items())
    if _is_sequence(value):
        return ((f"[{index}]", item) for index, item in enumerate(cast("Sequence[object]", value)))
    return None


def _first_non_finite(value: object, where: str, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} is {value!r}"
    if value is None or isinstance(value, int | str | bytes):
        return None
    if _is_array(value):
        return _array_non_finite(value, where)
    children = _children(value)
    if children is None:
        if _is_number(value) and not math.isfinite(float(value)):  # type: ignore[arg-type]
            return f"{where} is {float(value)!r}"  # type: ignore[arg-type]
        return None
    for label, child in children:
        reason = _first_non_finite(child, f"{where}.{label}" if label[0] != "[" else where + label, depth + 1)
        if reason is not None:
            return reason
    return None


def _array_non_finite(value: Any, where: str) -> str | None:
    import numpy as np  # the value already is an array: numpy is loaded

    array = np.asarray(value)
    if array.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{where}{list(index)} is {array[index]!r} ({int(bad.sum())} non-finite of {array.size})"


def _mismatch(old: object, new: object, where: str, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    if _is_array(old) or _is_array(new):
        return _array_mismatch(old, new, where)
    if _is_number(old) and _is_number(new):
        return None
    old_children, new_children = _children(old), _children(new)
    if old_children is None or new_children is None:
        if type(old) is not type(new):
            return f"{where}: {type(new).__name__} where legacy gives {type(old).__name__}"
        return None
    if type(old) is not type(new) and not (_is_sequence(old) and _is_sequence(new)):
        return f"{where}: {type(new).__name__} where legacy gives {type(old).__name__}"
    return _children_mismatch(dict(old_children), dict(new_children), where, depth)


def _children_mismatch(old: dict[str, object], new: dict[str, object], where: str, depth: int) -> str | None:
    if old.keys() != new.keys():
        if all(k.startswith("[") for k in old) and all(k.startswith("[") for k in new):
            return f"{where}: length {len(new)} where legacy gives {len(old)}"
        missing = sorted(old.keys() - new.keys())
        extra = sorted(new.keys() - old.keys())
        return f"{where}: keys differ (missing {missing}, extra {extra})"
    for label, old_child in old.items():
        child_where = where + (label if label[0] == "[" else f".{label}")
        reason = _mismatch(old_child, new[label], child_where, depth + 1)
        if reason is not None:
            return reason
    return None


def _array_mismatch(old: Any, new: Any, where: str) -> str | None:
    old_shape = getattr(old, "shape", None)
    new_shape = getattr(new, "shape", None)
    if old_shape is None or new_shape is None:
        return f"{where}: {type(new).__name__} where legacy gives {type(old).__name__}"
    if tuple(old_shape) != tuple(new_shape):
        return f"{where}: shape {tuple(new_shape)} where legacy gives {tuple(old_shape)}"
    return None


def _paired_leaves(old: object, new: object, depth: int) -> Iterator[tuple[object, object]]:
    if depth > _MAX_DEPTH or _is_array(old) or _is_array(new):
        yield old, new
        return
    old_children, new_children = _children(old), _children(new)
    if old_children is None or new_children is None:
        yield old, new
        return
    old_map, new_map = dict(old_children), dict(new_children)
    if old_map.keys() != new_map.keys():
        yield _Unequal, None
        return
    for label, old_child in old_map.items():
        yield from _paired_leaves(old_child, new_map[label], depth + 1)


class _Unequal:
    """Marker leaf: the structures differ, so the difference is infinite."""


def _leaf_difference(old: object, new: object) -> tuple[float, float]:
    """(|new - old| at its largest, |old| at its largest) of one pair of leaves."""
    if old is _Unequal:
        return math.inf, 0.0
    if _is_array(old) or _is_array(new):
        return _array_difference(old, new)
    if _is_number(old) and _is_number(new):
        old_f, new_f = float(old), float(new)  # type: ignore[arg-type]
        magnitude = abs(old_f) if math.isfinite(old_f) else 0.0
        if old_f == new_f or (math.isnan(old_f) and math.isnan(new_f)):  # also inf == inf
            return 0.0, magnitude
        diff = abs(new_f - old_f)
        return (math.inf if math.isnan(diff) else diff), magnitude
    return (0.0 if _equal(old, new) else math.inf), 0.0


def _equal(old: object, new: object) -> bool:
    try:
        return bool(old == new)
    except Exception:  # noqa: BLE001 - an __eq__ that cannot answer counts as different
        return False


def _array_difference(old: Any, new: Any) -> tuple[float, float]:
    import numpy as np

    try:
        old_a = np.asarray(old, dtype=float)
        new_a = np.asarray(new, dtype=float)
    except (TypeError, ValueError):
        return (0.0 if _equal_arrays(old, new) else math.inf), 0.0
    if old_a.shape != new_a.shape:
        return math.inf, 0.0
    if old_a.size == 0:
        return 0.0, 0.0
    with np.errstate(invalid="ignore"):
        same = (old_a == new_a) | (np.isnan(old_a) & np.isnan(new_a))
        diff = np.where(same, 0.0, np.abs(new_a - old_a))
    finite_old = np.abs(old_a[np.isfinite(old_a)])
    magnitude = float(finite_old.max()) if finite_old.size else 0.0
    return float(np.max(diff)), magnitude


def _equal_arrays(old: Any, new: Any) -> bool:
    import numpy as np

    try:
        return bool(np.array_equal(np.asarray(old), np.asarray(new)))
    except Exception:  # noqa: BLE001 - a comparison that cannot answer counts as different
        return False


CompareFn = Callable[[Any, Any], tuple[float, float]]
ValidateFn = Callable[[Any], "str | None"]
