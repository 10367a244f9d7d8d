"""Judging a candidate's answer: valid or not (and why), and how far it is from legacy's.

Every method here never raises: a ``validate`` or ``compare`` that crashes becomes a counted
reason (an invalid result, or a comparison left empty), never an exception in the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook.runtime._compare import default_compare, default_validate, structure_mismatch
from runbook.runtime._stats import Counters

__all__ = ["Judge"]


class Judge:
    """Applies ``validate(new) -> reason | None`` and ``compare(old, new) -> (abs, rel)``."""

    __slots__ = ("_compare", "_counters", "_validate")

    def __init__(
        self,
        *,
        compare: Callable[[Any, Any], tuple[float, float]] | None,
        validate: Callable[[Any], str | None] | None,
        counters: Counters,
    ) -> None:
        self._compare = compare or default_compare
        self._validate = validate or default_validate
        self._counters = counters

    def invalid_reason(self, new: object, *, old: object = None, has_old: bool = False) -> str | None:
        """Why ``new`` is not a usable answer, or None.

        ``validate(new)`` always decides; with legacy's answer at hand (shadow), a type or shape
        that differs from legacy's is invalid too.
        """
        try:
            reason = self._validate(new)
        except Exception as exc:  # noqa: BLE001 - a result check that fails judges the result invalid; counted
            self._counters.incr("validate_errors")
            return f"validate raised {type(exc).__name__}: {exc}"
        if reason is None and has_old:
            try:
                reason = structure_mismatch(old, new)
            except Exception as exc:  # noqa: BLE001 - a result check that fails judges the result invalid; counted
                self._counters.incr("validate_errors")
                return f"structure check raised {type(exc).__name__}: {exc}"
        return reason

    def differences(self, old: object, new: object) -> tuple[float | None, float | None]:
        """(abs, rel) difference of two valid answers, or (None, None) when compare crashed."""
        try:
            abs_difference, rel_difference = self._compare(old, new)
            return float(abs_difference), float(rel_difference)
        except Exception:  # noqa: BLE001 - routing never raises into the caller; counted
            self._counters.incr("compare_errors")
            return None, None
