"""Judging a candidate's answer: usable or not (and why), and whether it matches legacy's.

Every method here never raises: a ``validate`` or ``compare`` that crashes becomes a counted
reason (an invalid result, or a mismatch naming the crash), never an exception in the caller,
and never a comparison silently left out of the mismatch rate.

Mismatch rule (DESIGN.md 6, the monitor's rule too): an answer matches when
``abs_difference <= abs_tolerance`` or ``rel_difference <= rel_tolerance``; a NaN difference, a
structure that differs, or a compare that crashed is a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runbook.domain.observation import ErrorKind
from runbook.runtime._compare import default_compare, default_validate, structure_mismatch
from runbook.runtime._shape import ResultShape
from runbook.runtime._stats import Counters

__all__ = ["Judge", "Verdict"]

# (abs_difference, rel_difference, why it is a mismatch or None)
Verdict = tuple[float | None, float | None, str | None]


class Judge:
    """Applies ``validate(new) -> reason | None`` and ``compare(old, new) -> (abs, rel)``."""

    __slots__ = ("_abs_tol", "_compare", "_counters", "_rel_tol", "_validate", "shape")

    def __init__(
        self,
        *,
        compare: Callable[[Any, Any], tuple[float, float]] | None,
        validate: Callable[[Any], str | None] | None,
        counters: Counters,
        rel_tolerance: float = 1e-5,
        abs_tolerance: float = 0.0,
    ) -> None:
        self._compare = compare or default_compare
        self._validate = validate or default_validate
        self._counters = counters
        self._rel_tol, self._abs_tol = rel_tolerance, abs_tolerance
        self.shape = ResultShape()

    def invalid_reason(self, new: object, *, old: object = None, has_old: bool = False) -> str | None:
        """Why ``new`` is not a usable answer, or None.

        ``validate(new)`` always decides; with legacy's answer at hand (shadow) a type or shape
        that differs from it is invalid too; without it (canary, full) a kind that differs from
        legacy's learned answers is (``runbook.runtime._shape``).
        """
        try:
            reason = None if new is None else self._validate(new)
        except Exception as exc:  # noqa: BLE001 - a result check that fails judges the result invalid; counted
            self._counters.incr("validate_errors")
            return f"validate raised {type(exc).__name__}: {exc}"
        if reason is not None:
            return reason
        try:
            if has_old:
                return structure_mismatch(old, new)
            return self.shape.mismatch(new)
        except Exception as exc:  # noqa: BLE001 - a structure check that fails judges the result invalid; counted
            self._counters.incr("validate_errors")
            return f"structure check raised {type(exc).__name__}: {exc}"

    def verdict(self, old: object, new: object, *, check_structure: bool = False) -> Verdict:
        """(abs, rel, mismatch reason or None) of two answers; never raises."""
        try:
            reason = structure_mismatch(old, new) if check_structure else None
        except Exception as exc:  # noqa: BLE001 - a structure check that fails is a mismatch, with its reason
            reason = f"structure check raised {type(exc).__name__}: {exc}"
        if reason is not None:
            return None, None, f"structure: {reason}"
        try:
            abs_difference, rel_difference = (float(d) for d in self._compare(old, new))
        except Exception as exc:  # noqa: BLE001 - a compare that fails is a mismatch, with its reason; counted
            self._counters.incr("compare_errors")
            return None, None, f"compare raised {type(exc).__name__}: {exc}"[:500]
        if abs_difference <= self._abs_tol or rel_difference <= self._rel_tol:
            return abs_difference, rel_difference, None
        return (
            abs_difference,
            rel_difference,
            (
                f"rel difference {rel_difference:.6g} > {self._rel_tol:g} and abs difference "
                f"{abs_difference:.6g} > {self._abs_tol:g}"
            ),
        )

    def shadow(self, error: ErrorKind, value: object, seconds: float, *, budget_s: float, legacy_ok: bool,
               legacy_value: object) -> tuple[ErrorKind, ErrorKind, Verdict]:  # fmt: skip
        """One shadow call judged: (new's error, the observation's kind, the verdict); never raises.

        The same rule in the router and in a candidate's worker process: a sync answer later than
        ``budget_s`` is a timeout (its value unused); a clean answer the result check refuses is an
        invalid result; a clean answer beside legacy's is compared (MISMATCH beyond tolerance); a
        legacy failure makes the kind LEGACY_EXCEPTION.
        """
        if error is ErrorKind.NONE and seconds > budget_s:
            error = ErrorKind.TIMEOUT  # a sync call cannot be interrupted; its late answer is not used
        if error is ErrorKind.NONE and self.invalid_reason(value, old=legacy_value, has_old=legacy_ok):
            error = ErrorKind.INVALID_RESULT
        kind = error
        verdict: Verdict = (None, None, None)
        if error is ErrorKind.NONE and legacy_ok:
            verdict = self.verdict(legacy_value, value)
            if verdict[2] is not None:
                kind = ErrorKind.MISMATCH
        if not legacy_ok:
            kind = ErrorKind.LEGACY_EXCEPTION
        return error, kind, verdict
