"""One routed call as recorded by the runtime (DESIGN.md vocabulary: observation)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Route(StrEnum):
    """Which implementation answered the caller."""

    LEGACY = "legacy"
    CANDIDATE = "candidate"


class ErrorKind(StrEnum):
    """Why a candidate call did not count as a clean result. ``none`` when it did.

    exception, timeout, invalid_result: calculation errors (new raised anything, was late, or gave
    None, a wrong type or shape, NaN/inf, or what the result check rejects); old answered.
    mismatch: new's answer differed from old's beyond tolerance (or could not be compared).
    skipped: new was not run (no free worker); circuit_open: new was not run because the circuit
    breaker took it off the path after repeated failures. legacy_exception: old raised.
    """

    NONE = "none"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    INVALID_RESULT = "invalid_result"
    MISMATCH = "mismatch"
    SKIPPED = "skipped"
    CIRCUIT_OPEN = "circuit_open"
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


def observation_row(obs: Observation) -> tuple[Any, ...]:
    """``obs`` as a plain row: its fields in declaration order, route and error kind as strings (what
    the store inserts, and what a candidate process builds for a shadow call it judged)."""
    return (
        obs.component, obs.mode, str(obs.route), obs.routing_key, obs.at, obs.legacy_latency_us,
        obs.candidate_latency_us, str(obs.error_kind), obs.abs_difference, obs.rel_difference,
        obs.legacy_digest, obs.candidate_digest, obs.memory_bytes, obs.epoch,
    )  # fmt: skip


def observation_from_row(row: tuple[Any, ...]) -> Observation:
    """The ``Observation`` of a plain row (``observation_row``; enums given as values or members)."""
    (component, mode, route, key, at, legacy_us, candidate_us, kind, abs_difference, rel_difference,
     legacy_digest, candidate_digest, memory_bytes, epoch) = row  # fmt: skip
    return Observation(component, mode, Route(route), key, at, legacy_us, candidate_us, ErrorKind(kind),
                       abs_difference, rel_difference, legacy_digest, candidate_digest, memory_bytes,
                       epoch)  # fmt: skip

