"""JSON text of requests and results for captured requests, never raising, never unbounded.

``default_serializer(args, kwargs)`` writes ``{"args": [...], "kwargs": {...}}``. Values map to
JSON as: numbers, strings, booleans and None as themselves (NaN and inf as Python's json writes
them); lists, tuples and sets as arrays; mappings as objects (keys as strings); dataclasses as
``{"__type__": "module:QualName", "fields": {...}}``; numpy arrays as
``{"__ndarray__": [...], "dtype": "float64"}`` and numpy scalars as numbers; dates as ISO text;
enums by value; bytes as ``{"__bytes__": "<base64>"}``; anything else as ``{"__repr__": "..."}``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["default_serializer", "jsonable", "value_text"]

_MAX_DEPTH = 32


def default_serializer(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The request of one call as JSON text (see the module docstring)."""
    return json.dumps({"args": jsonable(list(args)), "kwargs": jsonable(kwargs)}, separators=(",", ":"))


def value_text(value: object, max_chars: int) -> str:
    """A result as JSON text, cut to ``max_chars`` (with a note saying how long it was)."""
    try:
        text = json.dumps(jsonable(value), separators=(",", ":"))
    except Exception as exc:  # noqa: BLE001 - a value no rule above can write: say so instead of failing
        text = json.dumps({"__unwritable__": f"{type(exc).__name__}: {exc}"})
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}... (cut, {len(text)} chars)"


def jsonable(value: object, depth: int = 0) -> Any:
    """``value`` as plain JSON-able Python objects (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > _MAX_DEPTH:
        return {"__repr__": "<too deep>"}
    if isinstance(value, enum.Enum):
        return jsonable(value.value, depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        fields = {f.name: jsonable(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
        return {"__type__": f"{kind.__module__}:{kind.__qualname__}", "fields": fields}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item, depth + 1) for item in value]
    return _other(value)


def _other(value: object) -> Any:
    if hasattr(value, "__array__") and hasattr(value, "dtype") and hasattr(value, "tolist"):
        if getattr(value, "ndim", 1) == 0:
            return value.tolist()  # a numpy scalar: a plain number
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    try:
        return {"__repr__": repr(value)[:2000]}
    except Exception:  # noqa: BLE001 - a repr that raises still leaves a readable placeholder
        return {"__repr__": f"<{type(value).__name__} without a repr>"}
