"""A request kept for offline replay: why it was kept and, for a mismatch, what both engines answered."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CaptureReason", "CapturedRequest"]


class CaptureReason(StrEnum):
    """Why a request was kept."""

    MISMATCH = "mismatch"  # the candidate's answer differed from legacy's beyond tolerance
    SAMPLE = "sample"  # a sample of ordinary shadow-mode traffic


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    """One kept request of ``component``.

    ``at``: Unix seconds, the call's time (equal to the ``at`` of its observation).
    ``payload``: the request as the router's serializer wrote it (JSON by default), or None when
    it was not kept (over the size cap, over the count bound, or the serializer failed: ``detail``
    says which); ``size``: the serialized request's length in bytes, also when not kept.
    ``legacy_value`` / ``candidate_value``: both answers as JSON text (capped), for mismatches;
    ``abs_difference`` (result units) / ``rel_difference`` (fraction of |legacy|) when computed.
    """

    component: str
    routing_key: str
    at: float
    reason: CaptureReason
    payload: str | None
    size: int
    mode: str = ""
    epoch: int = 0
    detail: str = ""
    legacy_value: str | None = None
    candidate_value: str | None = None
    abs_difference: float | None = None
    rel_difference: float | None = None
