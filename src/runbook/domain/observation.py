"""One routed call as recorded by the runtime (DESIGN.md vocabulary: observation)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Route(StrEnum):
    """Which implementation answered the caller."""

    LEGACY = "legacy"
    CANDIDATE = "candidate"


class ErrorKind(StrEnum):
    """Why a candidate call did not count as a clean result. ``none`` when it did."""

    NONE = "none"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    INVALID_RESULT = "invalid_result"
    MISMATCH = "mismatch"
    SKIPPED = "skipped"
    LEGACY_EXCEPTION = "legacy_exception"


@dataclass(frozen=True, slots=True)
class Observation:
    """One call through a router.

    Latencies in microseconds; memory in bytes (0 when not sampled); differences in the result's
    units (abs) and as a fraction of |legacy| (rel). ``None`` where the call had no comparison.
    ``at`` is a Unix timestamp in seconds.
    """

    component: str
    mode: str
    route: Route
    routing_key: str
    at: float
    legacy_latency_us: float | None
    candidate_latency_us: float | None
    error_kind: ErrorKind = ErrorKind.NONE
    abs_difference: float | None = None
    rel_difference: float | None = None
    legacy_digest: str | None = None
    candidate_digest: str | None = None
    memory_bytes: int = 0
    epoch: int = 0
