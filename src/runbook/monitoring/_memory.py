"""Peak memory online: how the monitor measures it, and the check (ADR-0011 memory_increase, 3.3).

Source. Observations carry no usable memory figure: a router serves legacy and candidate calls in
one process, and a process's allocation cannot be split between two engines call by call, so
``memory_bytes`` is 0 and the window-based memory check is not applicable. A probe measures it
instead, as ``effectiveness_probe`` measures hedge effectiveness: ``memory_probe`` runs the
deployed legacy and candidate engines on the same replayed requests (``runbook.scenarios.replay``:
the requests the traffic carries) and traces each engine's peak allocation with ``tracemalloc``.

Measure. Requests are taken in rounds of ``ROUND`` calls; in each round both engines answer the
same requests, one after the other, the engine that goes first alternating from round to round
(neither always finds the allocator warm). An engine's peak is the largest, over its rounds, of
the traced peak minus the memory traced when its round began (bytes): what one round of calls
needs on top of what was already allocated, transient arrays and anything a call keeps. Both
engines answer one request each before tracing starts, so lazy imports and first-call caches are
not charged to whichever engine happens to go first. Results are dropped at once.

Check. Candidate peak > ``max_memory_ratio`` x legacy peak on the same requests fails (ADR: 1.5);
legacy's peak from the same probe is the baseline because both ran in the same process on the same
inputs a moment apart, which a figure stored at readiness cannot match.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring._verdict import Check, CheckStatus, Evidence

__all__ = ["ROUND", "MemorySample", "check_probed_memory", "memory_probe"]

ROUND = 5  # calls per engine between two readings of the traced peak


@dataclass(frozen=True, slots=True)
class MemorySample:
    """Peak traced allocation (bytes) of each engine over ``calls`` replayed requests each."""

    candidate_peak_bytes: int
    legacy_peak_bytes: int
    calls: int

    @property
    def ratio(self) -> float | None:
        """Candidate peak / legacy peak; None when legacy's peak is not positive."""
        return self.candidate_peak_bytes / self.legacy_peak_bytes if self.legacy_peak_bytes > 0 else None


def memory_probe(pair: Any, *, count: int = 50, seed: int = 0, component: str) -> MemorySample:
    """Peak allocation of ``pair``'s legacy and candidate on the same ``count`` replayed requests.

    ``pair`` has ``call_legacy(request)`` and ``call_candidate(request)`` (an ``EnginePair``);
    ``component`` names the requests to replay. A call that raises is still measured (what it
    allocated before raising); its failure is the error-rate check's business, not this one's.
    tracemalloc is started if it was not tracing and stopped afterwards only then; if it was
    already tracing, its peak is reset (tracemalloc has a single peak). Takes about ``count`` x
    two engine calls, each slowed by tracing.
    """
    from runbook.scenarios.replay import replay_requests

    if count < 1:
        raise BadParameter(f"memory probe count {count!r} must be >= 1")
    requests = [request for _key, request in replay_requests(component, count=count, seed=seed)]
    engines = (pair.call_legacy, pair.call_candidate)
    for call in engines:  # lazy imports and first-call caches are not the candidate's footprint
        _run(call, requests[:1])
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        peaks = [0, 0]
        for index, start in enumerate(range(0, len(requests), ROUND)):
            chunk = requests[start : start + ROUND]
            order = (0, 1) if index % 2 == 0 else (1, 0)
            for engine in order:
                peaks[engine] = max(peaks[engine], _traced_peak(engines[engine], chunk))
    finally:
        if started:
            tracemalloc.stop()
    return MemorySample(candidate_peak_bytes=peaks[1], legacy_peak_bytes=peaks[0], calls=len(requests))


def _traced_peak(call: Callable[[Any], Any], requests: Sequence[Any]) -> int:
    """Bytes allocated at the peak of ``requests``' calls beyond what was traced before them."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    _run(call, requests)
    return max(tracemalloc.get_traced_memory()[1] - before, 0)


def _run(call: Callable[[Any], Any], requests: Sequence[Any]) -> None:
    for request in requests:
        try:
            call(request)
        except Exception:  # the error-rate check judges failures; memory only measures
            continue


def check_probed_memory(sample: MemorySample, thresholds: RollbackThresholds) -> Check:
    """Candidate peak against ``max_memory_ratio`` x legacy's peak on the same probed requests."""
    limit = thresholds.max_memory_ratio
    candidate, legacy = sample.candidate_peak_bytes, sample.legacy_peak_bytes
    evidence: Evidence = {
        "memory.source": "probe: legacy and candidate on the same replayed requests",
        "memory.calls": sample.calls,
        "memory.candidate_peak_bytes": candidate,
        "memory.legacy_peak_bytes": legacy,
        "memory.limit_ratio": limit,
    }
    if sample.calls < 1 or legacy <= 0:
        return Check(
            "memory",
            CheckStatus.UNDECIDED,
            f"memory: probe measured nothing ({sample.calls} calls, legacy peak {legacy} B)",
            evidence,
        )
    ratio = candidate / legacy
    evidence["memory.ratio"] = ratio
    seen = (
        f"memory: candidate peak {_kib(candidate)} = {ratio:.2f}x legacy peak {_kib(legacy)} "
        f"on the same {sample.calls} replayed requests, limit {limit:.2f}x"
    )
    return Check("memory", CheckStatus.FAIL if ratio > limit else CheckStatus.PASS, seen, evidence)


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB ({size} B)"
