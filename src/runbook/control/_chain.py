"""The audit hash chain's arithmetic (no SQLAlchemy): what ``audit`` and the DB-API rollback share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from runbook.control._time import as_utc

__all__ = ["GENESIS_HASH", "canonical_evidence", "float_or_none", "row_digest"]

GENESIS_HASH = "0" * 64


def canonical_evidence(evidence: Mapping[str, Any] | None) -> str:
    """Evidence as stored: JSON with sorted keys, no spaces; non-JSON values become strings."""
    return json.dumps(dict(evidence or {}), sort_keys=True, separators=(",", ":"), default=str)


def row_digest(row: Mapping[Any, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of a row's content and the previous row's hash, as canonical JSON."""
    at = as_utc(row["at"])
    content = [
        at.isoformat(timespec="microseconds") if at else None,
        row["component"],
        row["action"],
        row["actor"],
        row["from_mode"],
        row["to_mode"],
        float_or_none(row["from_fraction"]),
        float_or_none(row["to_fraction"]),
        row["epoch"],
        row["reason"],
        row["evidence"],
        prev_hash,
    ]
    payload = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)
