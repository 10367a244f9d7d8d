"""The candidate side of a router: calling new within its budget, judging it, recording it.

``attempt_*`` never raise (a real interrupt of the process excepted, ``_interrupt``): new's
exception (any ``BaseException``), lateness, invalid answer or an open circuit breaker becomes an
``Attempt`` with an error kind, which the router answers with old. New runs on ``pool`` (the
router's candidate threads, or any pool with the same ``run``/``arun`` -> ``Outcome`` interface,
so a hang costs the caller its budget, not its thread) or, with ``pool=None``, inline on the
caller's thread (a late answer is discarded, but the caller waited for it). Async new runs on the
pool thread's own event loop (``_aio``), cancelled at the budget; inline, on the caller's loop.
``served`` / ``record_*`` record the caller's path: a served answer is queued for verification
against old (``_jobs.VerifyJob``) or recorded at once. With ``processes`` (process isolation)
every call of new, shadow included, goes to the router's candidate processes, and the
observations carry the memory samples they report (``memory_bytes``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from runbook.domain.capture import CaptureReason
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime._aio import DeadlinePassed, is_async_callable, run_coroutine
from runbook.runtime._breaker import CircuitBreaker
from runbook.runtime._capture import RequestCapture
from runbook.runtime._interrupt import is_process_interrupt
from runbook.runtime._jobs import VerifyJob
from runbook.runtime._judge import Judge
from runbook.runtime._process import CandidateProcesses
from runbook.runtime._recorder import ObservationRecorder
from runbook.runtime._state_cache import Snapshot
from runbook.runtime._stats import Counters
from runbook.runtime._worker import resolve_target

__all__ = ["Attempt", "CandidateCalls", "CandidatePool", "is_callers_own"]

_perf = time.perf_counter
_KEY_CHARS = 128  # the observations.routing_key column width
Outcome = tuple[Any, ErrorKind, float]  # (value or exception, error kind, seconds)


class CandidatePool(Protocol):
    """Where a sync call of new runs off the caller's thread (``CandidateThreads``, a process pool)."""

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
            timeout_s: float) -> Outcome: ...  # fmt: skip

    async def arun(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   timeout_s: float) -> Outcome: ...  # fmt: skip

    def close(self) -> None: ...


class Attempt:
    """One call of new: value (or exception), error kind, seconds, why invalid; ``unchecked``: no
    legacy answer was known yet to check its kind against (the router then asks old);
    ``memory_bytes``: a sample of new's peak memory per call when its worker reported one, else 0."""

    __slots__ = ("error", "memory_bytes", "reason", "seconds", "unchecked", "value")

    def __init__(self, value: Any, error: ErrorKind, seconds: float, reason: str | None = None) -> None:
        self.value, self.error, self.seconds, self.reason = value, error, seconds, reason
        self.unchecked = False
        self.memory_bytes = 0


class AsyncRunner:
    """A sync callable running ``async def`` new on the current thread's loop, cancelled at a deadline."""

    __slots__ = ("fn", "timeout_s")

    def __init__(self, fn: Callable[..., Any], timeout_s: float | None) -> None:
        self.fn, self.timeout_s = fn, timeout_s

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return run_coroutine(self.fn, args, kwargs, self.timeout_s)


def is_callers_own(exc: BaseException) -> bool:
    """True for exceptions that belong to the caller, not to new: a process interrupt, or the
    cancellation of the caller's own task (new raising CancelledError by itself is new's)."""
    if is_process_interrupt(exc):
        return True
    if not isinstance(exc, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: nobody cancelled the caller
        return False
    return task is not None and task.cancelling() > 0


class CandidateCalls:
    """Calls ``candidate`` for a router of ``component``; see the module docstring."""

    def __init__(
        self, component: str, *, legacy: Any, candidate: Any, timeout_s: float, shadow_timeout_s: float,
        pool: CandidatePool | None, judge: Judge, breaker: CircuitBreaker,
        recorder: ObservationRecorder | None, capture: RequestCapture | None, counters: Counters,
        verify_share: float, sample_share: float, processes: CandidateProcesses | None = None,
    ) -> None:  # fmt: skip
        self.component = component
        self.legacy, self.legacy_async = legacy, is_async_callable(legacy)
        self._fn = candidate
        self._async = not isinstance(candidate, str) and is_async_callable(candidate)
        self._processes = processes
        self._timeout = timeout_s  # the caller's budget (canary, full)
        self.shadow_timeout = shadow_timeout_s
        self._pool = pool
        self._pooled = AsyncRunner(candidate, timeout_s) if self._async else candidate
        self.shadow_runner = AsyncRunner(candidate, shadow_timeout_s) if self._async else candidate
        self.judge, self.breaker, self.recorder, self.capture = judge, breaker, recorder, capture
        self.counters = counters
        self.verify_share, self.sample_share = verify_share, sample_share
        self.submit: Callable[[Any], bool] = lambda _job: False  # set by the router: its shadow pool
        self.saturated: Callable[[], bool] = lambda: False  # set by the router: too many stuck workers

    # ---- calling new ---------------------------------------------------------------------------

    def call_unguarded(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """New alone, its exceptions included (retired mode: there is no old to fall back to)."""
        self._import_here()
        if self._async:
            return run_coroutine(self._fn, args, kwargs)
        return self._fn(*args, **kwargs)

    async def acall_unguarded(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._import_here()
        if self._async:
            return await self._fn(*args, **kwargs)
        return self._fn(*args, **kwargs)

    def attempt_sync(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Attempt:
        """Call new for a sync caller, waiting at most the budget (see the module docstring)."""
        if not self.breaker.allow():
            return Attempt(None, ErrorKind.CIRCUIT_OPEN, 0.0)
        if self._processes is not None:
            return self._measured(*self._processes.run_measured(args, kwargs, self._timeout))
        if self._pool is not None:
            outcome = self._pool.run(self._pooled, args, kwargs, self._timeout)
        else:
            outcome = self._inline(args, kwargs)
        return self._settled(*outcome)

    async def attempt_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Attempt:
        """Call new for a caller on an event loop, waiting at most the budget; the loop runs on."""
        if not self.breaker.allow():
            return Attempt(None, ErrorKind.CIRCUIT_OPEN, 0.0)
        if self._processes is not None:
            return self._measured(*await self._processes.arun_measured(args, kwargs, self._timeout))
        if self._pool is not None:
            outcome = await self._pool.arun(self._pooled, args, kwargs, self._timeout)
        else:
            outcome = await self._inline_async(args, kwargs)
        return self._settled(*outcome)

    def run_shadow_candidate(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, ErrorKind, float, int]:
        """New on a shadow job (a worker thread): (value or exception, kind, seconds, memory bytes).

        Thread and inline isolation only: under process isolation shadow jobs go to the candidate's
        processes in batches (``_batch``), never through here."""
        start = _perf()
        try:
            value = self.shadow_runner(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - on a worker thread every exception is the engine's (_interrupt)
            return exc, ErrorKind.EXCEPTION, _perf() - start, 0
        return value, ErrorKind.NONE, _perf() - start, 0

    def _measured(self, value: Any, error: ErrorKind, seconds: float, memory_bytes: int) -> Attempt:
        attempt = self._settled(value, error, seconds)
        attempt.memory_bytes = memory_bytes
        return attempt

    def _import_here(self) -> None:
        """Retired mode with an import path: new answers alone, from this process."""
        if isinstance(self._fn, str):
            self._fn = resolve_target(self._fn)
            self._async = is_async_callable(self._fn)

    def _inline(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
        start = _perf()
        try:
            value = self._pooled(*args, **kwargs)
        except BaseException as exc:  # new's failure, whatever it raised; a real interrupt goes on
            if is_callers_own(exc):
                raise
            return exc, ErrorKind.EXCEPTION, _perf() - start
        return value, ErrorKind.NONE, _perf() - start

    async def _inline_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
        start = _perf()
        scope = asyncio.timeout(self._timeout)
        try:
            if self._async:
                async with scope:
                    value = await self._fn(*args, **kwargs)
            else:
                value = self._fn(*args, **kwargs)
        except BaseException as exc:
            if is_callers_own(exc):
                raise
            late = isinstance(exc, TimeoutError) and self._async and scope.expired()
            return exc, ErrorKind.TIMEOUT if late else ErrorKind.EXCEPTION, _perf() - start
        return value, ErrorKind.NONE, _perf() - start

    def _settled(self, value: Any, error: ErrorKind, seconds: float) -> Attempt:
        attempt = self.judged(value, error, seconds, budget_s=self._timeout)
        self.breaker.record(attempt.error)
        if attempt.error is ErrorKind.NONE and not self.judge.shape.known:
            attempt.unchecked = True
        return attempt

    def judged(self, value: Any, error: ErrorKind, seconds: float, *, budget_s: float,
               old: Any = None, has_old: bool = False) -> Attempt:  # fmt: skip
        """The attempt of one outcome: late, failed, invalid (reason) or clean."""
        if error is ErrorKind.EXCEPTION and isinstance(value, DeadlinePassed):
            error = ErrorKind.TIMEOUT
        if error is ErrorKind.NONE and seconds > budget_s:
            error = ErrorKind.TIMEOUT  # a sync call cannot be interrupted; its late answer is not used
        if error is not ErrorKind.NONE:
            return Attempt(value, error, seconds)
        reason = self.judge.invalid_reason(value, old=old, has_old=has_old)
        if reason is not None:
            return Attempt(value, ErrorKind.INVALID_RESULT, seconds, reason)
        return Attempt(value, ErrorKind.NONE, seconds)

    # ---- the caller's path: what happened, recorded (never raising) -------------------------------

    def served(self, snap: Snapshot, key: str, at: float, attempt: Attempt,
               args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:  # fmt: skip
        """New answered the caller: verify it against old off the caller's path, or record it."""
        self.counters.incr("answered_by_candidate")
        if self.verify_share < 1.0 and random.random() >= self.verify_share:
            self.counters.incr("verify_sampled_out")
        elif self.submit(VerifyJob(args, kwargs, key, snap, at, attempt.value, attempt.seconds,
                                   memory_bytes=attempt.memory_bytes)):  # fmt: skip
            return
        else:
            self.counters.incr("verify_skipped_queue_full")
        self.record_row(snap, key, at, Route.CANDIDATE, None, attempt.seconds, ErrorKind.NONE,
                        attempt.memory_bytes)  # fmt: skip

    def record_fallback(
        self, snap: Snapshot, key: str, at: float, attempt: Attempt, legacy_seconds: float
    ) -> None:
        """New failed (``attempt.error``), was skipped or switched off, and old answered (or raised)."""
        self.counters.incr(f"fallback_{attempt.error.value}")
        ran = attempt.error not in (ErrorKind.SKIPPED, ErrorKind.CIRCUIT_OPEN)
        self.record_row(snap, key, at, Route.LEGACY, legacy_seconds, attempt.seconds if ran else None,
                        attempt.error, attempt.memory_bytes)  # fmt: skip

    def after_legacy(self, snap: Snapshot, key: str, at: float, attempt: Attempt, args: tuple[Any, ...],
                     kwargs: dict[str, Any], legacy: tuple[bool, Any, float]) -> None:  # fmt: skip
        """Old answered (or raised) after new failed, or before new's kind of answer could be checked."""
        ok, outcome, seconds = legacy
        if ok:
            self.judge.shape.learn(outcome)
        if not attempt.unchecked:
            self.record_fallback(snap, key, at, attempt, seconds)
            return
        self.counters.incr("answered_by_legacy_first")
        job = VerifyJob(args, kwargs, key, snap, at, attempt.value, attempt.seconds, legacy=legacy,
                        memory_bytes=attempt.memory_bytes)  # fmt: skip
        if not self.submit(job):
            self.counters.incr("verify_skipped_queue_full")
            self.record_row(snap, key, at, Route.LEGACY, seconds, attempt.seconds, ErrorKind.NONE,
                            attempt.memory_bytes)  # fmt: skip

    def record_legacy(self, snap: Snapshot, key: str, at: float, legacy_seconds: float, *, failed: bool,
                      value: Any = None) -> None:  # fmt: skip
        """Old answered a key that canary keeps on old (its latency is the live baseline)."""
        if not failed:
            self.judge.shape.learn(value)
        kind = ErrorKind.LEGACY_EXCEPTION if failed else ErrorKind.NONE
        self.record_row(snap, key, at, Route.LEGACY, legacy_seconds, None, kind)

    def record_row(
        self, snap: Snapshot, key: str, at: float, route: Route, legacy_seconds: float | None,
        candidate_seconds: float | None, kind: ErrorKind, memory_bytes: int = 0,
    ) -> None:  # fmt: skip
        if self.recorder is None:
            return
        try:
            row = (
                self.component, snap.mode.value, route.value, str(key)[:_KEY_CHARS], at,
                None if legacy_seconds is None else legacy_seconds * 1e6,
                None if candidate_seconds is None else candidate_seconds * 1e6,
                kind.value, None, None, None, None, memory_bytes, snap.epoch,
            )  # fmt: skip
            if not self.recorder._record_row(row):
                self.counters.incr("observations_dropped")
        except Exception:  # noqa: BLE001 - recording never raises into the caller; counted
            self.counters.incr("record_errors")

    def keep_request(self, job: Any, reason: CaptureReason, **details: Any) -> None:
        """Hand one job's request to the capture (worker threads only: it serializes)."""
        if self.capture is None:
            return
        snap = job.snap
        self.capture.capture(component=self.component, routing_key=job.key, at=job.at, reason=reason,
                             args=job.args, kwargs=job.kwargs, mode=snap.mode.value, epoch=snap.epoch,
                             **details)  # fmt: skip
