"""What a router's worker threads do: run new beside old (shadow), and verify served answers.

``ShadowJob``: old already answered the caller; run new within the shadow budget, judge it against
old's outcome, and build the observation (route ``legacy``). ``VerifyJob``: new's answer was
served in canary or full (or, before the router knew legacy's kind of answer, old answered and new
ran beside it); run old now, off the caller's path, and compare (route ``candidate`` when new's
answer was served). Both record a mismatch (beyond tolerance, a differing structure, or a compare
that crashed) with its reason, and hand the request to the capture. Neither ever raises: a worker
thread belongs to the router, whatever new or old raise in it, ``BaseException`` included.

A worker whose job runs past its budget is abandoned and replaced by the pool; while too many
abandoned workers are still stuck (``saturated``), jobs skip the engine call and say so.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from runbook.domain.capture import CaptureReason
from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.runtime._aio import DeadlinePassed, run_coroutine
from runbook.runtime._hashing import digest_or_none
from runbook.runtime._state_cache import Snapshot

if TYPE_CHECKING:
    from runbook.runtime._calls import CandidateCalls

__all__ = ["Done", "ShadowEntry", "ShadowJob", "VerifyJob", "digest", "maybe_sample"]

_perf = time.perf_counter
_KEY_CHARS = 128


class Done:
    """A finished job: its observation, the counter it adds to, and the outcome the breaker sees.

    The pool hands it to the router only when the job was not abandoned meanwhile, so a late job
    is never counted twice (once by the watchdog, once when it finally returns).
    """

    __slots__ = ("breaker_kind", "counter", "observation")

    def __init__(self, observation: Observation, counter: str, breaker_kind: ErrorKind | None = None) -> None:
        self.observation, self.counter, self.breaker_kind = observation, counter, breaker_kind


# a shadow call as the caller's thread queues it (process isolation): ShadowJob's fields, in order,
# except that the time is ``time.perf_counter`` at the call's start (one clock read fewer on the
# caller's path; the pump turns it into wall time); a tuple is one bytecode to build, an object
# several attribute writes
ShadowEntry = tuple[tuple[Any, ...], dict[str, Any], str, Snapshot, float, bool, Any, float]


class ShadowJob:
    """Old's outcome on one shadow call, waiting for new to run beside it."""

    __slots__ = ("args", "at", "key", "kwargs", "legacy_ok", "legacy_outcome", "legacy_seconds", "snap")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], key: str, snap: Snapshot, at: float,
                 legacy_ok: bool, legacy_outcome: Any, legacy_seconds: float) -> None:  # fmt: skip
        self.args, self.kwargs, self.key, self.snap, self.at = args, kwargs, key, snap, at
        self.legacy_ok, self.legacy_outcome, self.legacy_seconds = legacy_ok, legacy_outcome, legacy_seconds

    def run(self, calls: CandidateCalls) -> Done:
        if self.legacy_ok:
            calls.judge.shape.learn(self.legacy_outcome)
        maybe_sample(calls, self)
        if calls.saturated():
            return self.not_run(calls, ErrorKind.SKIPPED, "shadow_skipped_stuck")
        if not calls.breaker.allow():
            return self.not_run(calls, ErrorKind.CIRCUIT_OPEN, "shadow_circuit_open")
        return self.finish(calls, *calls.run_shadow_candidate(self.args, self.kwargs))

    def finish(self, calls: CandidateCalls, value: Any, error: ErrorKind, seconds: float, memory_bytes: int
               ) -> Done:  # fmt: skip
        """Judge new's outcome against old's (``Judge.shadow``) and build the observation."""
        if error is ErrorKind.EXCEPTION and isinstance(value, DeadlinePassed):
            error = ErrorKind.TIMEOUT
        error, kind, verdict = calls.judge.shadow(error, value, seconds, budget_s=calls.shadow_timeout,
                                                  legacy_ok=self.legacy_ok, legacy_value=self.legacy_outcome)
        if kind is ErrorKind.MISMATCH:
            _mismatch_kind(calls, self, verdict, self.legacy_outcome, value)  # keeps the request
        new_value = _NO_VALUE if error is ErrorKind.TIMEOUT else value
        observation = _observation(calls, self, Route.LEGACY, self.legacy_seconds, seconds, kind,
                                   verdict[:2], self.legacy_outcome, new_value, memory_bytes)  # fmt: skip
        return Done(observation, f"shadow_{'ok' if kind is ErrorKind.NONE else kind.value}", error)

    def hung(self, calls: CandidateCalls, elapsed_s: float) -> Done:
        """The outcome of this job while new is still running past its budget."""
        kind = ErrorKind.TIMEOUT
        observation = _observation(calls, self, Route.LEGACY, self.legacy_seconds, elapsed_s, kind,
                                   (None, None), self.legacy_outcome, _NO_VALUE)  # fmt: skip
        return Done(observation, "shadow_timeout", ErrorKind.TIMEOUT)

    def not_run(self, calls: CandidateCalls, kind: ErrorKind, counter: str) -> Done:
        observation = _observation(calls, self, Route.LEGACY, self.legacy_seconds, None, kind,
                                   (None, None), self.legacy_outcome, _NO_VALUE)  # fmt: skip
        return Done(observation, counter)


class VerifyJob:
    """New's answer to one call (served unless ``legacy`` is given), waiting for old to check it.

    ``legacy``: (ok, outcome, seconds) when old already answered the caller (the router did not yet
    know legacy's kind of answer); None: old runs in the worker.
    """

    __slots__ = ("args", "at", "candidate_seconds", "candidate_value", "key", "kwargs", "legacy",
                 "memory_bytes", "snap")  # fmt: skip

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], key: str, snap: Snapshot, at: float,
                 candidate_value: Any, candidate_seconds: float,
                 legacy: tuple[bool, Any, float] | None = None, memory_bytes: int = 0) -> None:  # fmt: skip
        self.args, self.kwargs, self.key, self.snap, self.at = args, kwargs, key, snap, at
        self.candidate_value, self.candidate_seconds, self.legacy = candidate_value, candidate_seconds, legacy
        self.memory_bytes = memory_bytes  # new's memory sample on this call (process isolation), else 0

    @property
    def route(self) -> Route:
        return Route.CANDIDATE if self.legacy is None else Route.LEGACY

    def run(self, calls: CandidateCalls) -> Done:
        if self.legacy is None and calls.saturated():
            return self._unverified(calls, None, "verify_skipped_stuck")
        ok, outcome, seconds = self.legacy or _invoke_legacy(calls, self.args, self.kwargs)
        if not ok:
            observation = _observation(calls, self, self.route, seconds, self.candidate_seconds,
                                       ErrorKind.LEGACY_EXCEPTION, (None, None), outcome,
                                       self.candidate_value, self.memory_bytes)  # fmt: skip
            return Done(observation, "verify_legacy_exception")
        calls.judge.shape.learn(outcome)
        verdict = calls.judge.verdict(outcome, self.candidate_value, check_structure=True)
        kind = _mismatch_kind(calls, self, verdict, outcome, self.candidate_value)
        observation = _observation(calls, self, self.route, seconds, self.candidate_seconds, kind,
                                   verdict[:2], outcome, self.candidate_value, self.memory_bytes)  # fmt: skip
        return Done(observation, "verify_ok" if kind is ErrorKind.NONE else "verify_mismatch")

    def hung(self, calls: CandidateCalls, elapsed_s: float) -> Done:
        """Old is still running past the budget: the served answer is recorded unverified."""
        return self._unverified(calls, elapsed_s, "verify_timeout")

    def _unverified(self, calls: CandidateCalls, legacy_seconds: float | None, counter: str) -> Done:
        observation = _observation(calls, self, self.route, legacy_seconds, self.candidate_seconds,
                                   ErrorKind.NONE, (None, None), _NO_VALUE, self.candidate_value,
                                   self.memory_bytes)  # fmt: skip
        return Done(observation, counter)


_NO_VALUE: Any = object()


def _invoke_legacy(
    calls: CandidateCalls, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, Any, float]:
    start = _perf()
    try:
        if calls.legacy_async:
            value = run_coroutine(calls.legacy, args, kwargs)
        else:
            value = calls.legacy(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - old's failure here is only a failed verification
        return False, exc, _perf() - start
    return True, value, _perf() - start


def _mismatch_kind(calls: CandidateCalls, job: ShadowJob | VerifyJob, verdict: tuple[Any, Any, str | None],
                   old: Any, new: Any) -> ErrorKind:  # fmt: skip
    abs_difference, rel_difference, why = verdict
    if why is None:
        return ErrorKind.NONE
    calls.keep_request(job, CaptureReason.MISMATCH, detail=why, values=(old, new),
                       differences=(abs_difference, rel_difference))  # fmt: skip
    return ErrorKind.MISMATCH


def maybe_sample(calls: CandidateCalls, job: ShadowJob) -> None:
    if calls.sample_share > 0.0 and random.random() < calls.sample_share:
        calls.keep_request(job, CaptureReason.SAMPLE)


def _observation(calls: CandidateCalls, job: ShadowJob | VerifyJob, route: Route,
                 legacy_seconds: float | None, candidate_seconds: float | None, kind: ErrorKind,
                 differences: tuple[Any, Any], legacy_value: Any, candidate_value: Any,
                 memory_bytes: int = 0) -> Observation:  # fmt: skip
    return Observation(
        component=calls.component, mode=job.snap.mode.value, route=route,
        routing_key=str(job.key)[:_KEY_CHARS], at=job.at,
        legacy_latency_us=None if legacy_seconds is None else legacy_seconds * 1e6,
        candidate_latency_us=None if candidate_seconds is None else candidate_seconds * 1e6, error_kind=kind,
        abs_difference=differences[0], rel_difference=differences[1],
        legacy_digest=digest(legacy_value), candidate_digest=digest(candidate_value),
        memory_bytes=memory_bytes, epoch=job.snap.epoch,
    )  # fmt: skip


def digest(value: Any) -> str | None:
    return None if value is _NO_VALUE else digest_or_none(value)
