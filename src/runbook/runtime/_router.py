"""Router: what production calls instead of an engine (DESIGN.md section 5).

Per call the router reads its cached state (one attribute and one clock read), then:

- ``legacy``, ``rolled_back``: old only.
- ``shadow``: old answers (its value, or its exception re-raised unchanged); the same arguments and
  old's outcome go to a bounded queue; a worker runs new with a timeout, judges and compares it,
  and records an observation. A full queue skips the shadow call (counted).
- ``canary``: keys whose stable point (blake2b of component and key) is below the fraction go to
  new; ``full``: every key goes to new. New raising anything (``BaseException`` included), late
  (over ``candidate_timeout_s``), invalid (None, NaN/inf, what ``validate`` rejects, or not the
  kind of answer legacy gives: ``_shape``) or switched off by the circuit breaker is answered by
  old and counted. **Verified canary**: an answer of new that was served is compared with old's
  answer to the same request on a worker thread, off the caller's path (every call by default,
  ``verify_share`` of them if set), and recorded like a shadow
  comparison, mismatches flagged and their requests kept (``capture``).
- ``retired``: new only; old code is gone, so new's own exception reaches the caller.
- state older than ``max_staleness_s`` (store unreachable): legacy, counted as ``failsafe_legacy``.

Containment: new's exceptions are caught only around the call of new (on a worker thread, or
inline on the caller's thread); a real interrupt of the process (a signal's KeyboardInterrupt, the
cancellation of the caller's own task) still reaches the caller (``_interrupt``). Sync new runs on
a few candidate threads the router owns (``candidate_isolation="thread"``, the default): at the
deadline the caller is answered by old while the late thread is abandoned and replaced, up to a
bound; a call that finds every candidate thread taken goes straight to old (``fallback_skipped``).
Async new runs there too, on the thread's own event loop, cancelled at the budget, so a candidate
that blocks its loop holds one worker, never the caller's loop. ``"inline"`` calls new on the
caller's thread (or awaits it on the caller's loop): no hand-off, but a late answer is only
discarded after the caller waited for it, and a candidate that never returns (or blocks the loop)
holds the caller. ``Router.call`` runs async engines on the calling thread's own event loop
(``_aio``): no loop is shared, so none can die under the caller. Routing itself never raises into
the caller: internal failures are counted in ``stats()``.

Until the router has seen one legacy answer (a fresh process in canary or full), it cannot check
the kind of new's answers: such a call is answered by old, and new's answer compared with it.

``candidate_isolation="process"`` runs new in a few worker processes the router owns
(``_process``), in every mode that calls it, sync or async: new's CPU time, memory and crashes
stay out of the service. Shadow calls cross in batches from one pump thread and are judged in the
worker against legacy's answer, which also builds the observation (``_batch``): per call the
caller's thread runs legacy and appends one tuple to a deque, nothing else. New is an import path
(``"package.module:attribute"``) or a module-level callable the workers can import; requests and
results cross by ``serializer`` (pickle protocol 5 by default, numpy arrays out of band). A worker
that dies, overruns its deadline or passes ``candidate_memory_cap_bytes`` is replaced and the call
answered by old (a candidate that keeps doing it opens the breaker). Observations of
process-isolated calls carry samples of new's peak allocation per call (``memory_bytes``, traced
in the worker on one call in ``candidate_memory_every``, repeated after its answer so tracing
never slows a timed call); with thread and inline isolation it is 0 (one engine's figure cannot
be taken per call inside a shared process), and the monitor falls back to its memory probe.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from runbook.domain.components import parse_component
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind
from runbook.runtime._aio import is_async_callable, run_coroutine
from runbook.runtime._batch import Row, ShadowBatches
from runbook.runtime._breaker import CircuitBreaker
from runbook.runtime._calls import CandidateCalls, CandidatePool
from runbook.runtime._capture import RequestCapture
from runbook.runtime._compare import default_validate
from runbook.runtime._hashing import routing_point
from runbook.runtime._isolation import CandidateThreads
from runbook.runtime._jobs import Done, ShadowEntry, ShadowJob
from runbook.runtime._judge import Judge
from runbook.runtime._options import (
    COUNTERS,
    check_isolation,
    check_options,
    check_processes,
    check_verification,
)  # fmt: skip
from runbook.runtime._ports import StateSource
from runbook.runtime._process import CandidateProcesses
from runbook.runtime._recorder import ObservationRecorder
from runbook.runtime._shadow import ShadowPool
from runbook.runtime._state_cache import NEVER_READ, Snapshot, StateCache
from runbook.runtime._stats import Counters
from runbook.runtime._wire import Serializer

__all__ = ["Router"]

_perf = time.perf_counter
_wall = time.time
_SHADOW = Mode.SHADOW
_IN_CALL_STALE_S = 0.002
Args = tuple[Any, ...]
Kwargs = dict[str, Any]


def _catalog_check(component: str) -> Callable[[Any], str | None] | None:
    """The catalog's result check of ``component`` as a ``validate`` function (None without one)."""
    from runbook.domain.catalog import entry_of

    check = entry_of(component).check
    return None if check is None else _CatalogValidate(check)


class _CatalogValidate:
    """The default checks (None, NaN/inf) first; the catalog's check adds to them. A class, not a
    closure, so that candidate processes can be given it (they judge shadow answers)."""

    __slots__ = ("check",)

    def __init__(self, check: Any) -> None:
        self.check = check

    def __call__(self, result: Any) -> str | None:
        reason: str | None = default_validate(result) or self.check.result_failure(result)
        return reason


class Router:
    """Routes calls of one component between ``legacy`` and ``candidate``; see the module docstring.

    legacy, candidate: callables, sync or ``async def``; both get the call's arguments unchanged
        (they must not mutate them: in shadow and verification both see the same objects).
    state_source: anything with ``states() -> Mapping[str, ComponentState]``.
    recorder: where observations go (shadow, canary and full calls); None records nothing.
    capture: a ``RequestCapture`` keeping the requests (and both answers) of mismatching calls,
        and ``sample_share`` of shadow requests; None keeps none.
    shadow_timeout_s: the candidate's time budget in seconds in shadow (off the caller's path).
    shadow_workers, shadow_queue: threads running shadow and verification jobs, and jobs waiting.
    candidate_timeout_s: the longest the caller waits for new in canary and full, in seconds
        (None: ``shadow_timeout_s``).
    candidate_isolation: ``"thread"`` runs new on the router's candidate threads, ``"inline"`` on
        the caller's thread (faster; a hang holds the caller), ``"process"`` in the router's
        candidate processes (a crash or a leak stays there): module docstring.
    candidate_processes: worker processes with process isolation (each about a second to start,
        in the background; until one is free calls are answered by old). serializer: how requests
        and results cross to them (``runbook.runtime._wire``). candidate_memory_cap_bytes: memory
        new may use in a worker beyond its imported state (None: no cap). candidate_memory_every:
        one call in this many is repeated in its worker under tracemalloc to sample new's memory.
    candidate_workers: the most candidate threads serving at once (started on demand); size it to
        the service's concurrent callers: a call finding them all busy is answered by old.
    verify_share: share of served answers compared with old in [0, 1]; every one by default, so
        the monitor's mismatch trigger decides as soon as its error trigger does.
    rel_tolerance, abs_tolerance: an answer within either of old's matches (abs in result units).
    breaker_failures, breaker_cool_down_s: calculation errors in a row that open the circuit
        breaker, and seconds it stays open before one call probes new again.
    refresh_interval_s, max_staleness_s: state poll period, and the age (seconds) past which
        the router serves legacy because the store did not answer.
    compare(old, new) -> (abs, rel); validate(new) -> reason or None: see ``default_compare``,
        ``default_validate``. clock: monotonic seconds (a fake one in tests; staleness, breaker).
    """

    def __init__(
        self,
        component: str,
        *,
        legacy: Callable[..., Any],
        candidate: Callable[..., Any],
        state_source: StateSource,
        recorder: ObservationRecorder | None = None,
        capture: RequestCapture | None = None,
        shadow_timeout_s: float = 1.0,
        shadow_workers: int = 2,
        shadow_queue: int = 1000,
        refresh_interval_s: float = 0.25,
        max_staleness_s: float = 5.0,
        compare: Callable[[Any, Any], tuple[float, float]] | None = None,
        validate: Callable[[Any], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        candidate_timeout_s: float | None = None,
        candidate_isolation: Literal["thread", "inline", "process"] = "thread",
        candidate_workers: int = 8,
        verify_share: float = 1.0,
        sample_share: float = 0.0,
        rel_tolerance: float = 1e-5,
        abs_tolerance: float = 0.0,
        breaker_failures: int = 5,
        breaker_cool_down_s: float = 30.0,
        candidate_processes: int = 2,
        serializer: Serializer | None = None,
        candidate_memory_cap_bytes: int | None = None,
        candidate_memory_every: int = 16,
    ) -> None:
        parsed = parse_component(str(component))  # any catalog component
        self.component: str = parsed.value
        if validate is None:
            validate = _catalog_check(self.component)
        candidate_timeout_s = shadow_timeout_s if candidate_timeout_s is None else candidate_timeout_s
        check_options(legacy, candidate, shadow_timeout_s, shadow_workers, shadow_queue,
                      refresh_interval_s, max_staleness_s, isolation=candidate_isolation)  # fmt: skip
        check_isolation(candidate_isolation, candidate_timeout_s, candidate_workers)
        check_processes(candidate_processes, candidate_memory_cap_bytes, candidate_memory_every)
        check_verification(verify_share, sample_share, rel_tolerance, abs_tolerance, breaker_failures,
                           breaker_cool_down_s)  # fmt: skip
        self._legacy, self._legacy_async = legacy, is_async_callable(legacy)
        self._max_staleness = max_staleness_s
        self._clock = clock
        self._counters = Counters(COUNTERS)
        self._pool: CandidatePool | None = (
            CandidateThreads(workers=candidate_workers, counters=self._counters,
                             name=f"runbook-candidate-{self.component}")
            if candidate_isolation == "thread" else None
        )  # fmt: skip
        self._processes = (
            CandidateProcesses(candidate, workers=candidate_processes, counters=self._counters,
                               name=f"runbook-candidate-{self.component}", serializer=serializer,
                               memory_cap_bytes=candidate_memory_cap_bytes,
                               memory_every=candidate_memory_every,
                               judge_spec=(validate, compare, rel_tolerance, abs_tolerance))
            if candidate_isolation == "process" else None
        )  # fmt: skip
        self._breaker = CircuitBreaker(failures=breaker_failures, cool_down_s=breaker_cool_down_s,
                                       clock=clock, counters=self._counters)  # fmt: skip
        judge = Judge(compare=compare, validate=validate, counters=self._counters,
                      rel_tolerance=rel_tolerance, abs_tolerance=abs_tolerance)  # fmt: skip
        self._candidate = calls = CandidateCalls(
            self.component, legacy=legacy, candidate=candidate, timeout_s=candidate_timeout_s,
            shadow_timeout_s=shadow_timeout_s, pool=self._pool, judge=judge, breaker=self._breaker,
            recorder=recorder, capture=capture, counters=self._counters, verify_share=verify_share,
            sample_share=sample_share, processes=self._processes,
        )  # fmt: skip
        self._shadow: ShadowPool[Any, Done] = ShadowPool(
            run=lambda job: job.run(calls), emit=self._emit, on_hung=lambda job, s: job.hung(calls, s),
            # process isolation: shadow calls go to the workers in batches (below); these threads
            # only verify served answers against legacy, one per worker
            workers=min(shadow_workers, candidate_processes) if self._processes else shadow_workers,
            queue_size=shadow_queue,
            hung_after_s=shadow_timeout_s * (1.5 if self._processes is None else 2.5) + 0.05,
            counters=self._counters, name=f"runbook-shadow-{self.component}",
        )  # fmt: skip
        calls.submit, calls.saturated = self._shadow.submit, self._shadow.saturated
        # process isolation: shadow jobs go to the candidate processes in batches (``_batch``)
        self._batches = (
            ShadowBatches(self._processes, calls, emit=self._emit, emit_rows=self._emit_rows,
                          lanes=min(shadow_workers, candidate_processes), queue_size=shadow_queue,
                          counters=self._counters, name=f"runbook-shadow-{self.component}")
            if self._processes is not None else None
        )  # fmt: skip
        # process isolation, sync legacy: ``call`` appends its shadow entry to the pump's deque itself
        self._in_call_since = 0.0  # perf_counter at the start of the shadow call in progress, or 0
        if self._batches is not None:
            self._batches.in_call = self._in_shadow_call
            if recorder is not None:
                recorder.hold_while(self._in_shadow_call)
        self._entries: deque[ShadowEntry] | None
        self._entries, self._entries_max = (
            (self._batches.mailbox.items, self._batches.mailbox.maxsize)
            if self._batches is not None and not self._legacy_async else (None, 0)
        )  # fmt: skip
        self._recorder, self._capture = recorder, capture
        self._cache = StateCache(
            state_source, self.component, refresh_interval_s=refresh_interval_s, clock=clock,
            counters=self._counters,
        )  # fmt: skip
        self._closed = False
        self._cache.start()

    # ---- the caller's path, sync -------------------------------------------------------------

    def call(self, *args: Any, routing_key: str, **kwargs: Any) -> Any:
        """Answer one call of the component; ``routing_key`` (portfolio or book id) makes canary sticky.

        Returns old's or new's value per the mode; raises only old's own exception (or, once
        retired, new's).
        """
        snap = self._cache.snapshot
        if self._clock() - snap.fetched_at > self._max_staleness:
            self._counters.incr("failsafe_legacy")
            return self._call_legacy(args, kwargs)
        mode = snap.mode
        if mode is _SHADOW:
            entries = self._entries
            if entries is None:
                if self._batches is None:  # else the pump counts it
                    self._counters.incr("calls_shadow")
                return self._shadow_sync(snap, routing_key, args, kwargs)
            # process isolation: the whole caller's path is here (the pump counts the call)
            start = _perf()  # also the entry's time: the pump turns it into wall time
            self._in_call_since = start  # the pump holds its work until the call is over
            try:
                value = self._legacy(*args, **kwargs)
            except Exception as exc:
                self._in_call_since = 0.0
                self._enter((args, kwargs, routing_key, snap, start, False, exc, _perf() - start))
                raise
            took = _perf() - start
            self._in_call_since = 0.0
            if len(entries) < self._entries_max:
                entries.append((args, kwargs, routing_key, snap, start, True, value, took))
            else:
                self._counters.incr("calls_shadow")
                self._counters.incr("shadow_skipped_queue_full")
            return value
        if mode is Mode.CANARY:
            self._counters.incr("calls_canary")
            if self._to_candidate(routing_key, snap.traffic_fraction):
                return self._guarded_sync(snap, routing_key, args, kwargs)
            return self._recorded_legacy_sync(snap, routing_key, args, kwargs)
        if mode is Mode.FULL:
            self._counters.incr("calls_full")
            return self._guarded_sync(snap, routing_key, args, kwargs)
        if mode is Mode.RETIRED:
            self._counters.incr("calls_retired")
            return self._candidate.call_unguarded(args, kwargs)
        self._counters.incr("calls_rolled_back" if mode is Mode.ROLLED_BACK else "calls_legacy")
        return self._call_legacy(args, kwargs)

    def _call_legacy(self, args: Args, kwargs: Kwargs) -> Any:
        if self._legacy_async:
            return run_coroutine(self._legacy, args, kwargs)
        return self._legacy(*args, **kwargs)

    def _shadow_sync(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = self._call_legacy(args, kwargs)
        except Exception as exc:
            self._shadow_entry(args, kwargs, key, snap, at, False, exc, _perf() - start)
            raise
        self._shadow_entry(args, kwargs, key, snap, at, True, value, _perf() - start)
        return value

    def _guarded_sync(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at = _wall()
        attempt = self._candidate.attempt_sync(args, kwargs)
        if attempt.error is ErrorKind.NONE and not attempt.unchecked:
            self._candidate.served(snap, key, at, attempt, args, kwargs)
            return attempt.value
        start = _perf()
        try:
            value = self._call_legacy(args, kwargs)
        except Exception as exc:
            self._candidate.after_legacy(snap, key, at, attempt, args, kwargs, (False, exc, _perf() - start))
            raise
        self._candidate.after_legacy(snap, key, at, attempt, args, kwargs, (True, value, _perf() - start))
        return value

    def _recorded_legacy_sync(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = self._call_legacy(args, kwargs)
        except Exception:
            self._candidate.record_legacy(snap, key, at, _perf() - start, failed=True)
            raise
        self._candidate.record_legacy(snap, key, at, _perf() - start, failed=False, value=value)
        return value

    # ---- the caller's path, async ------------------------------------------------------------

    async def acall(self, *args: Any, routing_key: str, **kwargs: Any) -> Any:
        """``call`` for async services: awaits async engines on the caller's loop, calls sync ones.

        Shadow and verification run off the caller's path (worker threads with loops of their
        own), and so does new in canary and full unless ``candidate_isolation="inline"``.
        """
        snap = self._cache.snapshot
        if self._clock() - snap.fetched_at > self._max_staleness:
            self._counters.incr("failsafe_legacy")
            return await self._acall_legacy(args, kwargs)
        mode = snap.mode
        if mode is _SHADOW:
            if self._batches is None:
                self._counters.incr("calls_shadow")
            return await self._shadow_async(snap, routing_key, args, kwargs)
        if mode is Mode.CANARY:
            self._counters.incr("calls_canary")
            if self._to_candidate(routing_key, snap.traffic_fraction):
                return await self._guarded_async(snap, routing_key, args, kwargs)
            return await self._recorded_legacy_async(snap, routing_key, args, kwargs)
        if mode is Mode.FULL:
            self._counters.incr("calls_full")
            return await self._guarded_async(snap, routing_key, args, kwargs)
        if mode is Mode.RETIRED:
            self._counters.incr("calls_retired")
            return await self._candidate.acall_unguarded(args, kwargs)
        self._counters.incr("calls_rolled_back" if mode is Mode.ROLLED_BACK else "calls_legacy")
        return await self._acall_legacy(args, kwargs)

    async def _acall_legacy(self, args: Args, kwargs: Kwargs) -> Any:
        if self._legacy_async:
            return await self._legacy(*args, **kwargs)
        return self._legacy(*args, **kwargs)

    async def _shadow_async(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = await self._acall_legacy(args, kwargs)
        except Exception as exc:
            self._shadow_entry(args, kwargs, key, snap, at, False, exc, _perf() - start)
            raise
        self._shadow_entry(args, kwargs, key, snap, at, True, value, _perf() - start)
        return value

    def _in_shadow_call(self) -> bool:
        """A caller is inside a shadow call (one that started less than 2 ms ago: a call that left by
        an interrupt never cleared its mark)."""
        since = self._in_call_since
        return since != 0.0 and _perf() - since < _IN_CALL_STALE_S

    def _shadow_entry(self, args: Args, kwargs: Kwargs, key: str, snap: Snapshot, at: float, ok: bool,
                      outcome: Any, seconds: float) -> None:  # fmt: skip
        if self._batches is None:
            self._submit_shadow(ShadowJob(args, kwargs, key, snap, at, ok, outcome, seconds))
        else:  # the pump's entries carry perf_counter at the call's start, not wall time
            self._enter((args, kwargs, key, snap, _perf() - seconds, ok, outcome, seconds))

    def _enter(self, entry: ShadowEntry) -> None:
        """Process isolation: queue one shadow entry for the pump, which counts it; a full queue
        skips it (counted here)."""
        assert self._batches is not None
        try:
            if not self._batches.offer(entry):
                self._counters.incr("calls_shadow")
                self._counters.incr("shadow_skipped_queue_full")
        except Exception:  # noqa: BLE001 - routing never raises into the caller; legacy answers, counted
            self._counters.incr("internal_errors")

    async def _guarded_async(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at = _wall()
        attempt = await self._candidate.attempt_async(args, kwargs)
        if attempt.error is ErrorKind.NONE and not attempt.unchecked:
            self._candidate.served(snap, key, at, attempt, args, kwargs)
            return attempt.value
        start = _perf()
        try:
            value = await self._acall_legacy(args, kwargs)
        except Exception as exc:
            self._candidate.after_legacy(snap, key, at, attempt, args, kwargs, (False, exc, _perf() - start))
            raise
        self._candidate.after_legacy(snap, key, at, attempt, args, kwargs, (True, value, _perf() - start))
        return value

    async def _recorded_legacy_async(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = await self._acall_legacy(args, kwargs)
        except Exception:
            self._candidate.record_legacy(snap, key, at, _perf() - start, failed=True)
            raise
        self._candidate.record_legacy(snap, key, at, _perf() - start, failed=False, value=value)
        return value

    # ---- shared helpers ------------------------------------------------------------------------

    def _to_candidate(self, key: str, fraction: float) -> bool:
        try:
            return routing_point(self.component, key) < fraction
        except Exception:  # noqa: BLE001 - an unhashable key: legacy answers, counted
            self._counters.incr("internal_errors")
            return False

    def _submit_shadow(self, job: ShadowJob) -> None:
        try:
            if not self._shadow.submit(job):
                self._counters.incr("shadow_skipped_queue_full")
        except Exception:  # noqa: BLE001 - routing never raises into the caller; legacy answers, counted
            self._counters.incr("internal_errors")

    def _emit(self, done: Done) -> None:
        """Count one finished job, tell the breaker, and hand its observation to the recorder (a full
        recorder is counted, never waited for)."""
        self._counters.incr(done.counter)
        if done.breaker_kind is not None:
            self._breaker.record(done.breaker_kind)
        if self._recorder is not None and not self._recorder.record(done.observation):
            self._counters.incr("observations_dropped")

    def _emit_rows(self, rows: list[Row], counts: dict[str, int]) -> None:
        """``_emit`` for shadow calls judged in a candidate process (the breaker was told there):
        their counters, and their observations as rows."""
        for counter, amount in counts.items():
            self._counters.incr(counter, amount)
        dropped = len(rows) if self._recorder is None else self._recorder._record_rows(rows)
        if dropped and self._recorder is not None:
            self._counters.incr("observations_dropped", dropped)

    # ---- introspection and lifecycle -------------------------------------------------------------

    @property
    def serving_mode(self) -> Mode:
        """The mode applied to a call made now: the cached mode, or legacy when it is too old."""
        snap = self._cache.snapshot
        if self._clock() - snap.fetched_at > self._max_staleness:
            return Mode.LEGACY
        return snap.mode

    @property
    def epoch(self) -> int:
        """Epoch of the cached state (-1 before the first successful read)."""
        return self._cache.snapshot.epoch

    @property
    def breaker_state(self) -> str:
        """The circuit breaker: ``"closed"``, ``"open"`` (new is off the path) or ``"half_open"``."""
        return self._breaker.state

    def refresh(self) -> bool:
        """Read the state source now (besides the background poll); True when it answered."""
        return self._cache.refresh()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every shadow and verification job queued so far is done and its observation
        (and captured request) written. For tests, demos and orderly shutdowns; False on timeout."""
        deadline = time.monotonic() + timeout_s
        done = self._shadow.wait_idle(timeout_s)
        if self._batches is not None:
            done = self._batches.wait_idle(max(0.0, deadline - time.monotonic())) and done
        for writer in (self._recorder, self._capture):
            if writer is not None:
                done = writer.flush(max(0.0, deadline - time.monotonic())) and done
        return done

    def wait_for_candidate(self, timeout_s: float = 60.0) -> bool:
        """Process isolation: wait until every candidate process has started (True), or timeout_s.

        For warm-ups, tests and demos; until then calls finding no worker are answered by old.
        Other isolations have nothing to start: True at once.
        """
        return self._processes is None or self._processes.wait_ready(timeout_s)

    def stats(self) -> dict[str, int]:
        """Counters of calls per mode, fallbacks, shadow and verification outcomes, internal failures."""
        counts = self._counters.snapshot()
        if self._batches is not None:  # shadow calls still queued: counted once the pump takes them
            waiting = self._batches.waiting()
            if waiting:
                counts["calls_shadow"] = counts.get("calls_shadow", 0) + waiting
        return counts

    def close(self) -> None:
        """Stop the poller, the shadow and candidate threads; later calls serve legacy.

        The recorder and the capture are not closed: they may be shared by several routers.
        """
        if self._closed:
            return
        self._closed = True
        if self._batches is not None and self._recorder is not None:
            self._recorder.release(self._in_shadow_call)
        self._cache.stop()
        self._cache.snapshot = NEVER_READ
        self._shadow.close()
        if self._batches is not None:
            self._batches.close()
        if self._pool is not None:
            self._pool.close()
        if self._processes is not None:
            self._processes.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
