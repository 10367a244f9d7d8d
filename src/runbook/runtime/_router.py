"""Router: what production calls instead of an engine (DESIGN.md section 5).

Per call the router reads its cached state (one attribute and one clock read), then:

- ``legacy``, ``rolled_back``: old only.
- ``shadow``: old answers (its value, or its exception re-raised unchanged); the same arguments and
  old's outcome go to a bounded queue; a worker runs new with a timeout, judges and compares it,
  and records an observation. A full queue skips the shadow call (counted).
- ``canary``: keys whose stable point (blake2b of component and key) is below the fraction go to
  new; new raising, late (over ``shadow_timeout_s``) or invalid (``validate``) is answered by old
  and counted as a calculation error.
- ``full``: new for every key, guarded like canary: new's failure is answered by old (still
  loaded, since ``full`` is rollback-ready) and counted.
- ``retired``: new only; old code is gone, so new's own exception reaches the caller.
- state older than ``max_staleness_s`` (store unreachable): legacy, counted as ``failsafe_legacy``.

In canary and full the caller waits for new at most ``candidate_timeout_s`` (default: the shadow
budget). Async candidates are cancelled at that deadline. Sync candidates, with
``candidate_isolation="thread"`` (the default), run on a few candidate threads the router owns:
at the deadline the caller is answered by old (counted ``fallback_timeout``) while the late
thread is abandoned and replaced, up to a bound; a call that finds every candidate thread taken
(busy callers, or threads stuck in a hung candidate) goes straight to old, counted
``fallback_skipped`` and recorded as ``skipped`` (new not run: no calculation error). The
hand-off costs two thread wake-ups, tens of microseconds per candidate call (figures in
bench/router_overhead.py). ``"inline"`` calls a sync candidate on the caller's own thread: no
hand-off, but a late answer is only discarded after the caller waited for it, and a candidate that
never returns holds the caller forever. Routing itself never raises into the caller: internal
failures are counted in ``stats()``.

Observations record latencies, differences and digests but ``memory_bytes = 0``: a per-call
memory sample is either too slow for this path (tracemalloc) or process-wide (RSS), so candidate
memory is measured by offline validation and the benches instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from runbook.domain.components import parse_component
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Observation
from runbook.runtime._aio import BackgroundLoop, is_async_callable
from runbook.runtime._calls import CandidateCalls
from runbook.runtime._hashing import routing_point
from runbook.runtime._isolation import CandidateThreads
from runbook.runtime._judge import Judge
from runbook.runtime._options import COUNTERS, check_isolation, check_options
from runbook.runtime._ports import StateSource
from runbook.runtime._recorder import ObservationRecorder
from runbook.runtime._shadow import ShadowPool
from runbook.runtime._state_cache import NEVER_READ, Snapshot, StateCache
from runbook.runtime._stats import Counters

__all__ = ["Router"]

_perf = time.perf_counter
_wall = time.time
Args = tuple[Any, ...]
Kwargs = dict[str, Any]


class Router:
    """Routes calls of one component between ``legacy`` and ``candidate``; see the module docstring.

    legacy, candidate: callables, sync or ``async def``; both get the call's arguments unchanged
        (they must not mutate them: in shadow both see the same objects).
    state_source: anything with ``states() -> Mapping[str, ComponentState]``.
    recorder: where observations go (shadow, canary and full calls); None records nothing.
    shadow_timeout_s: the candidate's time budget in seconds in shadow (off the caller's path).
    shadow_workers, shadow_queue: threads running shadow calls, and jobs waiting for them.
    candidate_timeout_s: the longest the caller waits for new in canary and full, in seconds
        (None: ``shadow_timeout_s``).
    candidate_isolation: ``"thread"`` runs a sync candidate on the router's candidate threads,
        ``"inline"`` on the caller's thread (faster; a hang holds the caller): module docstring.
    candidate_workers: the most candidate threads serving at once (started on demand); size it to
        the service's concurrent callers: a call finding them all busy is answered by old.
    refresh_interval_s, max_staleness_s: state poll period, and the age (seconds) past which
        the router serves legacy because the store did not answer.
    compare(old, new) -> (abs, rel); validate(new) -> reason or None: see ``default_compare``,
        ``default_validate``. clock: monotonic seconds (a fake one in tests).
    """

    def __init__(
        self,
        component: str,
        *,
        legacy: Callable[..., Any],
        candidate: Callable[..., Any],
        state_source: StateSource,
        recorder: ObservationRecorder | None = None,
        shadow_timeout_s: float = 1.0,
        shadow_workers: int = 2,
        shadow_queue: int = 1000,
        refresh_interval_s: float = 0.25,
        max_staleness_s: float = 5.0,
        compare: Callable[[Any, Any], tuple[float, float]] | None = None,
        validate: Callable[[Any], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        candidate_timeout_s: float | None = None,
        candidate_isolation: Literal["thread", "inline"] = "thread",
        candidate_workers: int = 8,
    ) -> None:
        self.component: str = parse_component(str(component)).value
        candidate_timeout_s = shadow_timeout_s if candidate_timeout_s is None else candidate_timeout_s
        check_options(legacy, candidate, shadow_timeout_s, shadow_workers, shadow_queue,
                       refresh_interval_s, max_staleness_s)  # fmt: skip
        check_isolation(candidate_isolation, candidate_timeout_s, candidate_workers)
        self._legacy, self._legacy_async = legacy, is_async_callable(legacy)
        self._max_staleness = max_staleness_s
        self._clock = clock
        self._counters = Counters(COUNTERS)
        self._loop = BackgroundLoop(f"runbook-{self.component}-loop")
        self._threads = (
            CandidateThreads(workers=candidate_workers, counters=self._counters,
                             name=f"runbook-candidate-{self.component}")
            if candidate_isolation == "thread" else None
        )  # fmt: skip
        self._candidate = CandidateCalls(
            self.component, candidate=candidate, timeout_s=candidate_timeout_s,
            shadow_timeout_s=shadow_timeout_s, threads=self._threads, loop=self._loop,
            judge=Judge(compare=compare, validate=validate, counters=self._counters),
            recorder=recorder, counters=self._counters,
        )  # fmt: skip
        self._shadow: ShadowPool[Any, Observation] = ShadowPool(
            run=self._candidate.run_shadow, emit=self._candidate.emit, on_hung=self._candidate.hung,
            workers=shadow_workers, queue_size=shadow_queue, hung_after_s=shadow_timeout_s * 1.5 + 0.05,
            counters=self._counters, name=f"runbook-shadow-{self.component}",
        )  # fmt: skip
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
        if mode is Mode.SHADOW:
            self._counters.incr("calls_shadow")
            return self._shadow_sync(snap, routing_key, args, kwargs)
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
            return self._loop.submit(self._legacy(*args, **kwargs)).result()
        return self._legacy(*args, **kwargs)

    def _shadow_sync(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = self._call_legacy(args, kwargs)
        except Exception as exc:
            self._submit_shadow((args, kwargs, key, snap, at, False, exc, _perf() - start))
            raise
        self._submit_shadow((args, kwargs, key, snap, at, True, value, _perf() - start))
        return value

    def _guarded_sync(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at = _wall()
        attempt = self._candidate.attempt_sync(args, kwargs)
        if attempt.error is ErrorKind.NONE:
            self._candidate.record_served(snap, key, at, attempt)
            return attempt.value
        start = _perf()
        try:
            value = self._call_legacy(args, kwargs)
        except Exception:
            self._candidate.record_fallback(snap, key, at, attempt, _perf() - start, legacy_failed=True)
            raise
        self._candidate.record_fallback(snap, key, at, attempt, _perf() - start, legacy_failed=False)
        return value

    def _recorded_legacy_sync(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = self._call_legacy(args, kwargs)
        except Exception:
            self._candidate.record_legacy(snap, key, at, _perf() - start, failed=True)
            raise
        self._candidate.record_legacy(snap, key, at, _perf() - start, failed=False)
        return value

    # ---- the caller's path, async ------------------------------------------------------------

    async def acall(self, *args: Any, routing_key: str, **kwargs: Any) -> Any:
        """``call`` for async services: awaits async engines on the caller's loop, calls sync ones.

        Shadow candidates still run off the caller's path (worker threads, and a private event
        loop for ``async def`` candidates), so they never hold the caller's loop.
        """
        snap = self._cache.snapshot
        if self._clock() - snap.fetched_at > self._max_staleness:
            self._counters.incr("failsafe_legacy")
            return await self._acall_legacy(args, kwargs)
        mode = snap.mode
        if mode is Mode.SHADOW:
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
            self._submit_shadow((args, kwargs, key, snap, at, False, exc, _perf() - start))
            raise
        self._submit_shadow((args, kwargs, key, snap, at, True, value, _perf() - start))
        return value

    async def _guarded_async(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at = _wall()
        attempt = await self._candidate.attempt_async(args, kwargs)
        if attempt.error is ErrorKind.NONE:
            self._candidate.record_served(snap, key, at, attempt)
            return attempt.value
        start = _perf()
        try:
            value = await self._acall_legacy(args, kwargs)
        except Exception:
            self._candidate.record_fallback(snap, key, at, attempt, _perf() - start, legacy_failed=True)
            raise
        self._candidate.record_fallback(snap, key, at, attempt, _perf() - start, legacy_failed=False)
        return value

    async def _recorded_legacy_async(self, snap: Snapshot, key: str, args: Args, kwargs: Kwargs) -> Any:
        at, start = _wall(), _perf()
        try:
            value = await self._acall_legacy(args, kwargs)
        except Exception:
            self._candidate.record_legacy(snap, key, at, _perf() - start, failed=True)
            raise
        self._candidate.record_legacy(snap, key, at, _perf() - start, failed=False)
        return value

    # ---- shared helpers ------------------------------------------------------------------------

    def _to_candidate(self, key: str, fraction: float) -> bool:
        try:
            return routing_point(self.component, key) < fraction
        except Exception:  # noqa: BLE001 - an unhashable key: legacy answers, counted
            self._counters.incr("internal_errors")
            return False

    def _submit_shadow(self, job: tuple[Any, ...]) -> None:
        try:
            if not self._shadow.submit(job):
                self._counters.incr("shadow_skipped_queue_full")
        except Exception:  # noqa: BLE001 - routing never raises into the caller; legacy answers, counted
            self._counters.incr("internal_errors")

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

    def refresh(self) -> bool:
        """Read the state source now (besides the background poll); True when it answered."""
        return self._cache.refresh()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every shadow call queued so far is judged and its observation written.

        For tests, demos and orderly shutdowns; never needed on the caller's path. False on timeout.
        """
        deadline = time.monotonic() + timeout_s
        idle = self._shadow.wait_idle(timeout_s)
        recorder = self._candidate.recorder
        if recorder is None:
            return idle
        return recorder.flush(max(0.0, deadline - time.monotonic())) and idle

    def stats(self) -> dict[str, int]:
        """Counters of calls per mode, fallbacks, shadow outcomes and internal failures."""
        return self._counters.snapshot()

    def close(self) -> None:
        """Stop the poller, the shadow and candidate threads and the private loop; later calls serve legacy.

        The recorder is not closed: it may be shared by several routers (close it after them).
        """
        if self._closed:
            return
        self._closed = True
        self._cache.stop()
        self._cache.snapshot = NEVER_READ
        self._shadow.close()
        if self._threads is not None:
            self._threads.close()
        self._loop.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
