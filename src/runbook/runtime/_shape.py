"""What a candidate's answer must look like before it may be served, learned from legacy's answers.

In canary and full legacy's answer to the same request is not at hand on the caller's path, so
an answer is checked against the *kind* of answer legacy gives, learned from the first legacy
answer the router sees: the same class (numbers of any type match numbers), dataclass fields of
the same kinds, tuples of the same length, arrays of the same number of dimensions, mapping
values and list items of the same kinds where both have them, and None only if legacy has
returned None. Lengths, keys and array shapes that may differ with the request are left to the
comparison with legacy off the caller's path (verified canary), which records them as mismatches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook.runtime._compare import _children, _is_array, _is_number

__all__ = ["ResultShape", "kind_mismatch"]

_MAX_DEPTH = 32


class ResultShape:
    """The learned kind of legacy's answers; ``known`` once one non-None answer was seen."""

    __slots__ = ("known", "legacy_gives_none", "reference")

    def __init__(self) -> None:
        self.known = False
        self.legacy_gives_none = False
        self.reference: Any = None

    def learn(self, legacy_value: object) -> None:
        """Note one legacy answer (cheap once known: the caller's path calls this)."""
        if legacy_value is None:
            self.legacy_gives_none = True
        elif not self.known:
            self.reference = legacy_value
            self.known = True

    def mismatch(self, value: object) -> str | None:
        """Why ``value`` is not of legacy's kind, or None (also None while nothing is known)."""
        if value is None:
            if self.legacy_gives_none:
                return None
            return "result is None where legacy gives " + (
                type(self.reference).__name__ if self.known else "a value"
            )
        if not self.known:
            return None
        return kind_mismatch(self.reference, value, "result", 0)


def kind_mismatch(old: object, new: object, where: str, depth: int) -> str | None:
    """None when ``new`` is of the kind of ``old`` (see the module docstring), else where it is not."""
    if depth > _MAX_DEPTH:
        return None
    if _is_array(old) or _is_array(new):
        old_ndim, new_ndim = getattr(old, "ndim", None), getattr(new, "ndim", None)
        if old_ndim is None or new_ndim is None or old_ndim != new_ndim:
            return f"{where}: {_describe(new)} where legacy gives {_describe(old)}"
        return None
    if _is_number(old) and _is_number(new):
        return None
    if type(old) is not type(new):
        return f"{where}: {_describe(new)} where legacy gives {_describe(old)}"
    if isinstance(old, tuple) and len(old) != len(new):  # type: ignore[arg-type]
        return f"{where}: tuple of {len(new)} where legacy gives {len(old)}"  # type: ignore[arg-type]
    if isinstance(old, list):
        return _first_items(old, new, where, depth)  # type: ignore[arg-type]
    old_children, new_children = _children(old), _children(new)
    if old_children is None or new_children is None:
        return None
    new_map = dict(new_children)
    for label, old_child in old_children:
        if label in new_map:
            reason = kind_mismatch(old_child, new_map[label], _join(where, label), depth + 1)
            if reason is not None:
                return reason
        elif not isinstance(old, Mapping):
            return f"{where}: no field {label}"
    return None


def _first_items(old: list[Any], new: list[Any], where: str, depth: int) -> str | None:
    if old and new:
        return kind_mismatch(old[0], new[0], f"{where}[0]", depth + 1)
    return None


def _join(where: str, label: str) -> str:
    return where + (label if label[0] == "[" else f".{label}")


def _describe(value: object) -> str:
    ndim = getattr(value, "ndim", None)
    if _is_array(value) and ndim is not None:
        return f"{ndim}-d {type(value).__name__}"
    return type(value).__name__
