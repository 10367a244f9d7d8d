"""Requests recorded by routers (``captured_requests``) as rows of a requests file.

A captured payload is the router's ``default_serializer`` JSON, ``{"args": [...], "kwargs": {...}}``.
A row is the keyword arguments (numpy arrays back to lists, dataclasses to their fields), the call's
``routing_key``, and ``__args__`` for positional arguments; a call whose only argument is a request
dataclass (the shipped engines' ``calculate_var_sync(request)``) becomes that dataclass's fields.
Captures kept without a payload (over the size cap or the count bound) are skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Export:
    """Rows to write, and how many captures had no payload (or one that is not JSON)."""

    rows: list[dict[str, Any]]
    skipped: int


def export_rows(captures: Iterable[Any]) -> Export:
    """The requests file rows of ``captures`` (``CapturedRequest``), oldest first."""
    rows, skipped = [], 0
    for capture in captures:
        try:
            payload = json.loads(capture.payload) if capture.payload else None
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            skipped += 1
            continue
        rows.append(_row(payload, capture.routing_key))
    return Export(rows, skipped)


def _row(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    args = [plain(a) for a in payload.get("args", [])]
    kwargs = {str(k): plain(v) for k, v in (payload.get("kwargs") or {}).items()}
    first = payload.get("args", [None])[0] if payload.get("args") else None
    if len(args) == 1 and not kwargs and isinstance(first, dict) and "__type__" in first:
        row = dict(args[0])
    else:
        row = {**kwargs, **({"__args__": args} if args else {})}
    return {**row, "routing_key": routing_key}


def plain(value: Any) -> Any:
    """A serialized value back to plain JSON: arrays as lists, dataclasses as their fields."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return value["__ndarray__"]
        if "__type__" in value and "fields" in value:
            return {str(k): plain(v) for k, v in value["fields"].items()}
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
