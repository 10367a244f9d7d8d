"""Peak memory online: how the monitor measures it, and the check (ADR-0011 memory_increase, 3.3).

Source. Observations carry no usable memory figure: a router serves legacy and candidate calls in
one process, and a process's allocation cannot be split between two engines call by call, so
``memory_bytes`` is 0 and the window-based memory check is not applicable. A probe measures it
instead, as ``effectiveness_probe`` measures hedge effectiveness: ``memory_probe`` runs the
deployed legacy and candidate engines on the same replayed requests (``runbook.scenarios.replay``:
the requests the traffic carries) and traces each call's peak allocation with ``tracemalloc``.

Measure. Each request is answered by both engines, one after the other, the engine that goes first
alternating from request to request (neither always finds the allocator warm). A call's peak is
the traced peak during that call (``reset_peak`` just before it) minus the memory traced when it
began (bytes): what the call needs on top of what was already allocated, transient arrays and
anything it keeps. Both engines answer one request each before tracing starts, so lazy imports
and first-call caches are not charged to whichever engine happens to go first. Results are
dropped at once.

Robustness. ``tracemalloc`` traces every thread of the process: inside a flow, Prefect's log and
event threads, a router's recorder or an approver allocate too, and whatever they allocate during
a call lands in that call's peak. Such bytes come now and then; an engine's own allocation comes
on every call. So an engine is summarised by the median of its per-call peaks (numpy's ``linear``
method): foreign allocations during fewer than half of an engine's calls cannot move it, while a
candidate that allocates more on every call moves it by exactly that. The largest per-call peak is
kept as evidence only.

Check. Candidate median peak > ``max_memory_ratio`` x legacy's median peak on the same requests
fails (ADR: 1.5); legacy's figure from the same probe is the baseline because both ran in the same
process on the same inputs a moment apart, which a figure stored at readiness cannot match.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring._health import quantile
from runbook.monitoring._verdict import Check, CheckStatus, Evidence

__all__ = ["MemorySample", "check_probed_memory", "memory_probe"]

LEGACY, CANDIDATE = 0, 1


@dataclass(frozen=True, slots=True)
class MemorySample:
    """Each engine's median per-call peak allocation (bytes) over ``calls`` replayed requests each.

    ``candidate_max_bytes`` / ``legacy_max_bytes``: the largest single-call peak (evidence only:
    it may hold another thread's allocation); 0 when not measured.
    """

    candidate_peak_bytes: int
    legacy_peak_bytes: int
    calls: int
    candidate_max_bytes: int = 0
    legacy_max_bytes: int = 0

    @property
    def ratio(self) -> float | None:
        """Candidate peak / legacy peak; None when legacy's peak is not positive."""
        return self.candidate_peak_bytes / self.legacy_peak_bytes if self.legacy_peak_bytes > 0 else None


def memory_probe(pair: Any, *, count: int = 50, seed: int = 0, component: str) -> MemorySample:
    """Median per-call peak allocation of ``pair``'s legacy and candidate on ``count`` replayed requests.

    ``pair`` has ``call_legacy(request)`` and ``call_candidate(request)`` (an ``EnginePair``);
    ``component`` names the requests to replay. A call that raises is still measured (what it
    allocated before raising); its failure is the error-rate check's business, not this one's.
    tracemalloc is started if it was not tracing and stopped afterwards only then; if it was
    already tracing, its peak is reset before each call (tracemalloc has a single peak). Takes
    about ``count`` x two engine calls, each slowed by tracing.
    """
    from runbook.scenarios.replay import replay_requests

    if count < 1:
        raise BadParameter(f"memory probe count {count!r} must be >= 1")
    requests = [request for _key, request in replay_requests(component, count=count, seed=seed)]
    legacy, candidate = _call_peaks(pair.call_legacy, pair.call_candidate, requests)
    return MemorySample(
        candidate_peak_bytes=_median(candidate),
        legacy_peak_bytes=_median(legacy),
        calls=len(requests),
        candidate_max_bytes=max(candidate),
        legacy_max_bytes=max(legacy),
    )


def _call_peaks(
    legacy: Callable[[Any], Any], candidate: Callable[[Any], Any], requests: Sequence[Any]
) -> tuple[list[int], list[int]]:
    """Per-call peak bytes of ``legacy`` and ``candidate`` on each of ``requests``, interleaved."""
    engines = (legacy, candidate)
    for call in engines:  # lazy imports and first-call caches are not the candidate's footprint
        _call(call, requests[0])
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    peaks: tuple[list[int], list[int]] = ([], [])
    try:
        for index, request in enumerate(requests):
            order = (LEGACY, CANDIDATE) if index % 2 == 0 else (CANDIDATE, LEGACY)
            for engine in order:
                peaks[engine].append(_traced_peak(engines[engine], request))
    finally:
        if started:
            tracemalloc.stop()
    return peaks


def _traced_peak(call: Callable[[Any], Any], request: Any) -> int:
    """Bytes allocated at the peak of one call beyond what was traced when it began."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    _call(call, request)
    return max(tracemalloc.get_traced_memory()[1] - before, 0)


def _call(call: Callable[[Any], Any], request: Any) -> None:
    try:
        call(request)
    except Exception:  # noqa: BLE001 - the error-rate check judges failures; memory only measures
        return


def _median(peaks: Sequence[int]) -> int:
    middle = quantile(sorted(peaks), 0.5)
    return 0 if middle is None else round(middle)


def check_probed_memory(sample: MemorySample, thresholds: RollbackThresholds) -> Check:
    """Candidate peak against ``max_memory_ratio`` x legacy's peak on the same probed requests."""
    limit = thresholds.max_memory_ratio
    candidate, legacy = sample.candidate_peak_bytes, sample.legacy_peak_bytes
    evidence: Evidence = {
        "memory.source": "probe: median per-call peak of legacy and candidate on the same replayed requests",
        "memory.calls": sample.calls,
        "memory.candidate_peak_bytes": candidate,
        "memory.legacy_peak_bytes": legacy,
        "memory.candidate_max_call_bytes": sample.candidate_max_bytes,
        "memory.legacy_max_call_bytes": sample.legacy_max_bytes,
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
        f"(median per call) on the same {sample.calls} replayed requests, limit {limit:.2f}x"
    )
    return Check("memory", CheckStatus.FAIL if ratio > limit else CheckStatus.PASS, seen, evidence)


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB ({size} B)"
