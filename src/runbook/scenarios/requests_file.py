"""Requests files: one request per row, as a service passes it to ``Router.call`` (keywords).

JSON Lines (``.jsonl``; one JSON object per line) or Parquet (one row per request, one column per
keyword). The key ``routing_key`` is ``Router.call``'s own and is not passed to the engines;
``__args__`` (a list) holds positional arguments, if any.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.errors import BadInputData


@dataclass(frozen=True, slots=True)
class Request:
    """One request: its id (for reports), routing key and keyword arguments."""

    request_id: str
    kwargs: dict[str, Any]
    routing_key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()  # positional arguments (``__args__`` in a row), rare


def read_requests(path: str | Path) -> list[Request]:
    """Every request in the file at ``path`` (BadInputData naming the file and row otherwise)."""
    file = Path(path)
    if not file.is_file():
        raise BadInputData(f"requests file {str(file)!r} does not exist")
    rows = _parquet(file) if file.suffix.lower() in {".parquet", ".pq"} else _jsonl(file)
    if not rows:
        raise BadInputData(f"requests file {str(file)!r} holds no request")
    return [_request(file, where, row) for where, row in rows]


def _jsonl(file: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BadInputData(f"requests file {str(file)!r} line {number} is not JSON: {exc}") from None
        if not isinstance(row, dict):
            raise BadInputData(f"requests file {str(file)!r} line {number} is not a JSON object of keywords")
        rows.append((f"line {number}", row))
    return rows


def _parquet(file: Path) -> list[tuple[str, dict[str, Any]]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types on a bad file: one BadInputData line
        raise BadInputData(f"cannot read requests file {str(file)!r}: {exc}") from None
    records = frame.to_dict("records")
    return [(f"row {i}", {str(k): _plain(v) for k, v in row.items()}) for i, row in enumerate(records)]


def _plain(value: Any) -> Any:
    """Parquet list cells come back as numpy arrays; give lists, as JSON Lines would."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _request(file: Path, where: str, row: dict[str, Any]) -> Request:
    kwargs = dict(row)
    key = kwargs.pop("routing_key", "")
    args = kwargs.pop("__args__", [])
    if not isinstance(args, list):
        raise BadInputData(f"requests file {str(file)!r} {where}: __args__ must be a list")
    return Request(f"{file.name} {where}", kwargs, str(key or ""), args=tuple(args))
