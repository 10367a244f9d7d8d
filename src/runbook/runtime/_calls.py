"""The candidate side of a router: calling new within its budget, judging it, recording it.

``attempt_*`` never raise: new's exception, lateness or invalid answer becomes an ``Attempt``
with an error kind, which the router answers with old. A sync new runs on ``threads`` (the
router's candidate threads, so a hang costs the caller its budget, not its thread) or, with
``threads=None``, inline on the caller's thread (its late answer is then discarded, but the caller
waited for it). ``run_shadow`` is what a shadow worker does with one job; ``record_*`` build
observations and hand them to the recorder (never raising).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.runtime._aio import BackgroundLoop, is_async_callable
from runbook.runtime._hashing import result_digest
from runbook.runtime._isolation import CandidateThreads
from runbook.runtime._judge import Judge
from runbook.runtime._recorder import ObservationRecorder
from runbook.runtime._state_cache import Snapshot
from runbook.runtime._stats import Counters

__all__ = ["Attempt", "CandidateCalls"]

_perf = time.perf_counter
_KEY_CHARS = 128  # the observations.routing_key column width
# The caller's path hands the recorder a plain tuple in this order (see ObservationRecorder._record_row).
_ROW_ORDER = (
    "component", "mode", "route", "routing_key", "at", "legacy_latency_us", "candidate_latency_us",
    "error_kind", "abs_difference", "rel_difference", "legacy_digest", "candidate_digest", "memory_bytes",
    "epoch",
)  # fmt: skip
if tuple(f.name for f in dataclasses.fields(Observation)) != _ROW_ORDER:  # pragma: no cover
    raise ImportError("runbook.runtime._calls: Observation's fields changed; update _ROW_ORDER")


class Attempt:
    """One call of new: its value (or exception), error kind, duration in seconds, and why invalid."""

    __slots__ = ("error", "reason", "seconds", "value")

    def __init__(self, value: Any, error: ErrorKind, seconds: float, reason: str | None = None) -> None:
        self.value, self.error, self.seconds, self.reason = value, error, seconds, reason


class CandidateCalls:
    """Calls ``candidate`` for a router of ``component``; see the module docstring."""

    def __init__(
        self,
        component: str,
        *,
        candidate: Any,
        timeout_s: float,
        shadow_timeout_s: float,
        threads: CandidateThreads | None,
        loop: BackgroundLoop,
        judge: Judge,
        recorder: ObservationRecorder | None,
        counters: Counters,
    ) -> None:
        self._component = component
        self._fn = candidate
        self._async = is_async_callable(candidate)
        self._timeout = timeout_s  # the caller's budget (canary, full)
        self._shadow_timeout = shadow_timeout_s
        self._threads = None if self._async else threads  # async new is cancelled at its budget instead
        self._loop = loop
        self._judge = judge
        self._recorder = recorder
        self._counters = counters

    @property
    def recorder(self) -> ObservationRecorder | None:
        return self._recorder

    # ---- calling new ---------------------------------------------------------------------------

    def call_unguarded(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """New alone, its exceptions included (retired mode: there is no old to fall back to)."""
        if self._async:
            return self._loop.submit(self._fn(*args, **kwargs)).result()
        return self._fn(*args, **kwargs)

    async def acall_unguarded(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._async:
            return await self._fn(*args, **kwargs)
        return self._fn(*args, **kwargs)

    def attempt_sync(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Attempt:
        """Call new for a sync caller, waiting at most the budget.

        Sync new runs on a candidate thread (``SKIPPED`` when every one is taken) or inline; async
        new on the private loop.
        """
        if self._threads is not None:
            outcome = self._threads.run(self._fn, args, kwargs, self._timeout)
            return self._judged(*outcome, old=None, has_old=False)
        start = _perf()
        value, error = self._invoke_blocking(args, kwargs, self._timeout)
        return self._judged(value, error, _perf() - start, old=None, has_old=False)

    async def attempt_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Attempt:
        """Call new for a caller on an event loop, waiting at most the budget.

        Async new runs on the caller's loop and is cancelled at the budget; sync new runs on a
        candidate thread (the loop runs on meanwhile) or inline.
        """
        if self._threads is not None:
            outcome = await self._threads.arun(self._fn, args, kwargs, self._timeout)
            return self._judged(*outcome, old=None, has_old=False)
        start = _perf()
        value: Any = None
        error = ErrorKind.NONE
        try:
            if self._async:
                async with asyncio.timeout(self._timeout) as scope:
                    value = await self._fn(*args, **kwargs)
            else:
                value = self._fn(*args, **kwargs)
        except TimeoutError as exc:
            error = ErrorKind.TIMEOUT if self._async and scope.expired() else ErrorKind.EXCEPTION
            value = exc
        except Exception as exc:  # noqa: BLE001 - the caller gets legacy's exception back, as it would without us
            value, error = exc, ErrorKind.EXCEPTION
        return self._judged(value, error, _perf() - start, old=None, has_old=False)

    def _invoke_blocking(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float
    ) -> tuple[Any, ErrorKind]:
        try:
            if not self._async:
                return self._fn(*args, **kwargs), ErrorKind.NONE
            future = self._loop.submit(self._fn(*args, **kwargs))
            try:
                return future.result(timeout_s), ErrorKind.NONE
            except TimeoutError as exc:
                if future.done():  # new raised TimeoutError itself
                    return exc, ErrorKind.EXCEPTION
                future.cancel()
                return exc, ErrorKind.TIMEOUT
        except Exception as exc:  # noqa: BLE001 - the caller gets legacy's exception back, as it would without us
            return exc, ErrorKind.EXCEPTION

    def _judged(
        self, value: Any, error: ErrorKind, seconds: float, *, old: Any, has_old: bool, shadow: bool = False
    ) -> Attempt:
        if error is ErrorKind.NONE and seconds > (self._shadow_timeout if shadow else self._timeout):
            error = ErrorKind.TIMEOUT  # a sync call cannot be interrupted; its late answer is not used
        if error is not ErrorKind.NONE:
            return Attempt(value, error, seconds)
        reason = self._judge.invalid_reason(value, old=old, has_old=has_old)
        if reason is not None:
            return Attempt(value, ErrorKind.INVALID_RESULT, seconds, reason)
        return Attempt(value, ErrorKind.NONE, seconds)

    # ---- shadow jobs (worker threads) ---------------------------------------------------------

    def run_shadow(self, job: tuple[Any, ...]) -> Observation:
        """Run new on one shadow job, judge it against old's outcome, and build the observation."""
        args, kwargs, key, snap, at, legacy_ok, legacy_outcome, legacy_seconds = job
        start = _perf()
        value, error = self._invoke_blocking(args, kwargs, self._shadow_timeout)
        attempt = self._judged(
            value, error, _perf() - start, old=legacy_outcome, has_old=legacy_ok, shadow=True
        )
        abs_difference = rel_difference = None
        if attempt.error is ErrorKind.NONE and legacy_ok:
            abs_difference, rel_difference = self._judge.differences(legacy_outcome, attempt.value)
        kind = attempt.error if legacy_ok else ErrorKind.LEGACY_EXCEPTION
        self._counters.incr("shadow_ok" if kind is ErrorKind.NONE else f"shadow_{kind.value}")
        return Observation(
            component=self._component, mode=snap.mode.value, route=Route.LEGACY,
            routing_key=str(key)[:_KEY_CHARS], at=at, legacy_latency_us=legacy_seconds * 1e6,
            candidate_latency_us=attempt.seconds * 1e6, error_kind=kind,
            abs_difference=abs_difference, rel_difference=rel_difference,
            legacy_digest=_digest(legacy_outcome),
            candidate_digest=None if attempt.error is ErrorKind.TIMEOUT else _digest(attempt.value),
            epoch=snap.epoch,
        )  # fmt: skip

    def hung(self, job: tuple[Any, ...], elapsed_s: float) -> Observation:
        """The observation of a shadow job whose candidate is still running past its budget."""
        _args, _kwargs, key, snap, at, _legacy_ok, legacy_outcome, legacy_seconds = job
        self._counters.incr("shadow_timeout")
        return self._observation(
            snap, key, at, Route.LEGACY, legacy_seconds, elapsed_s, ErrorKind.TIMEOUT,
            legacy_digest=_digest(legacy_outcome),
        )  # fmt: skip

    def emit(self, observation: Observation) -> None:
        """Hand one observation to the recorder; a full recorder is counted, never waited for."""
        if self._recorder is not None and not self._recorder.record(observation):
            self._counters.incr("observations_dropped")

    # ---- observations of the caller's path (canary, full) -------------------------------------

    def record_served(self, snap: Snapshot, key: str, at: float, attempt: Attempt) -> None:
        """New answered the caller."""
        self._counters.incr("answered_by_candidate")
        self._record_safely(snap, key, at, Route.CANDIDATE, None, attempt.seconds, ErrorKind.NONE)

    def record_fallback(
        self, snap: Snapshot, key: str, at: float, attempt: Attempt, legacy_seconds: float, *,
        legacy_failed: bool,  # noqa: ARG002 - the router tells which side failed; not yet recorded
    ) -> None:  # fmt: skip
        """New failed (``attempt.error``), or was skipped, and old answered or raised its own exception."""
        self._counters.incr(f"fallback_{attempt.error.value}")
        candidate_seconds = None if attempt.error is ErrorKind.SKIPPED else attempt.seconds
        self._record_safely(snap, key, at, Route.LEGACY, legacy_seconds, candidate_seconds, attempt.error)

    def record_legacy(
        self, snap: Snapshot, key: str, at: float, legacy_seconds: float, *, failed: bool
    ) -> None:
        """Old answered a key that canary keeps on old (its latency is the live baseline)."""
        kind = ErrorKind.LEGACY_EXCEPTION if failed else ErrorKind.NONE
        self._record_safely(snap, key, at, Route.LEGACY, legacy_seconds, None, kind)

    def _record_safely(
        self, snap: Snapshot, key: str, at: float, route: Route, legacy_seconds: float | None,
        candidate_seconds: float | None, kind: ErrorKind,
    ) -> None:  # fmt: skip
        if self._recorder is None:
            return
        try:
            row = (
                self._component, snap.mode.value, route, str(key)[:_KEY_CHARS], at,
                None if legacy_seconds is None else legacy_seconds * 1e6,
                None if candidate_seconds is None else candidate_seconds * 1e6,
                kind, None, None, None, None, 0, snap.epoch,
            )  # fmt: skip
            if not self._recorder._record_row(row):
                self._counters.incr("observations_dropped")
        except Exception:  # noqa: BLE001 - recording never raises into the caller; counted
            self._counters.incr("record_errors")

    def _observation(
        self, snap: Snapshot, key: str, at: float, route: Route, legacy_seconds: float | None,
        candidate_seconds: float | None, kind: ErrorKind, *, legacy_digest: str | None = None,
    ) -> Observation:  # fmt: skip
        return Observation(
            component=self._component, mode=snap.mode.value, route=route,
            routing_key=str(key)[:_KEY_CHARS], at=at,
            legacy_latency_us=None if legacy_seconds is None else legacy_seconds * 1e6,
            candidate_latency_us=None if candidate_seconds is None else candidate_seconds * 1e6,
            error_kind=kind, legacy_digest=legacy_digest, epoch=snap.epoch,
        )  # fmt: skip


def _digest(value: Any) -> str | None:
    try:
        return result_digest(value)
    except Exception:  # noqa: BLE001 - a result that cannot be hashed is still recorded, without its digest
        return None
