"""A result check such as ``var >= 0 and es >= var``, parsed once and evaluated without ``eval``.

Grammar: comparisons (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``, chained) of output field names
and numbers, joined by ``and`` / ``or`` / ``not``, with parentheses and unary minus. Field names
with dots (``greeks.delta``) address nested outputs. Anything else is refused when the catalog is
read, so a check can never run code.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from runbook.errors import BadParameter

_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResultCheck:
    """A parsed check; ``failure(fields)`` is None when the result passes, else the reason."""

    text: str
    tree: ast.expr

    @classmethod
    def parse(cls, text: str) -> ResultCheck:
        """Parse ``text`` or raise BadParameter naming what is not allowed."""
        try:
            tree = ast.parse(str(text).strip(), mode="eval").body
        except SyntaxError as exc:
            raise BadParameter(f"result check {text!r} is not an expression: {exc.msg}") from None
        _allowed(tree, text)
        return cls(str(text), tree)

    @property
    def names(self) -> frozenset[str]:
        """Field names the check reads."""
        return frozenset(_field_names(self.tree))

    def failure(self, fields: Mapping[str, float]) -> str | None:
        """None if ``fields`` pass, else why (a missing field or the check being false)."""
        missing = sorted(name for name in self.names if name not in fields)
        if missing:
            return f"result has no field {', '.join(missing)} (check {self.text!r})"
        try:
            ok = bool(_eval(self.tree, fields))
        except (TypeError, ValueError):
            ok = False
        return None if ok else f"result fails check {self.text!r}"


    def result_failure(self, result: object) -> str | None:
        """``failure`` on a result object: a mapping, a dataclass or any object with the fields
        as attributes (dotted names step into nested ones). Routers use it as ``validate``."""
        fields: dict[str, float] = {}
        for name in self.names:
            value: object = result
            for part in name.split("."):
                if isinstance(value, Mapping):
                    value = value.get(part, _MISSING)
                else:
                    value = getattr(value, part, _MISSING)
                if value is _MISSING:
                    break
            if value is not _MISSING:
                try:
                    fields[name] = float(value)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    return f"result field {name} is not a number: {value!r} (check {self.text!r})"
        return self.failure(fields)


_MISSING = object()


def _field_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name | ast.Attribute):
        return [_dotted(node)]
    return [name for child in ast.iter_child_nodes(node) for name in _field_names(child)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _allowed(node: ast.AST, text: str) -> None:
    if isinstance(node, ast.BoolOp | ast.Compare | ast.UnaryOp):
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub):
            raise BadParameter(f"result check {text!r}: operator not allowed")
        if isinstance(node, ast.Compare) and any(type(op) not in _COMPARE for op in node.ops):
            raise BadParameter(f"result check {text!r}: only < <= > >= == != comparisons are allowed")
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.boolop | ast.cmpop | ast.unaryop):
                _allowed(child, text)
        return
    number = isinstance(node, ast.Constant) and isinstance(node.value, int | float)
    if number and not isinstance(node.value, bool):  # type: ignore[attr-defined]
        return
    if isinstance(node, ast.Name | ast.Attribute) and _dotted(node):
        return
    raise BadParameter(
        f"result check {text!r}: {ast.unparse(node)!r} is not allowed; use field names, numbers, "
        "comparisons, and/or/not"
    )


def _eval(node: ast.AST, fields: Mapping[str, float]) -> float | bool:
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, fields) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, fields)
        return (not value) if isinstance(node.op, ast.Not) else -float(value)
    if isinstance(node, ast.Compare):
        left = float(_eval(node.left, fields))
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = float(_eval(right_node, fields))
            if math.isnan(left) or math.isnan(right) or not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return float(cast("float", node.value))  # a non-number constant raises here, as float() does
    return float(fields[_dotted(node)])
