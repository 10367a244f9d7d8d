"""The traffic replay load generator: real market-history requests through routers at a set rate.

Open loop: request i is due at start + i / rate. The generator sleeps until a request is due and
never bursts to catch up beyond calling as fast as the engines allow; how far it fell behind is
reported (``max_lag_s``). It stops by itself after ``ceil(rate x duration)`` requests or
``duration_s`` seconds (plus one interval, 1 / rate, for the last request), whichever comes first,
or when ``stop_event`` is set.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from runbook.domain.components import parse_component
from runbook.errors import BadParameter

__all__ = ["BackgroundReplay", "ReplayStats", "StopReason", "replay"]

MAX_RATE_PER_S = 100_000.0


class Routable(Protocol):
    """What replay drives: ``runbook.runtime.Router`` fits."""

    def call(self, *args: Any, routing_key: str, **kwargs: Any) -> Any: ...


class StopReason(StrEnum):
    COUNT = "count"  # every planned request was sent
    TIME = "time"  # duration_s elapsed first
    STOPPED = "stopped"  # stop_event was set
    EXHAUSTED = "exhausted"  # the request source ran out


@dataclass(frozen=True, slots=True)
class ReplayStats:
    """What a replay did. Rates in requests per second, times in seconds.

    caller_errors: calls that raised into the caller (legacy's own exceptions: a router answers
    the candidate's failures with legacy). first_error names the first of them.
    """

    component: str
    rate_per_s: float
    duration_s: float
    planned: int
    sent: int
    caller_errors: int
    elapsed_s: float
    max_lag_s: float
    stopped: StopReason
    first_error: str | None = None

    @property
    def achieved_rate_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "component": self.component, "rate_per_s": self.rate_per_s, "duration_s": self.duration_s,
            "planned": self.planned, "sent": self.sent, "caller_errors": self.caller_errors,
            "elapsed_s": self.elapsed_s, "achieved_rate_per_s": self.achieved_rate_per_s,
            "max_lag_s": self.max_lag_s, "stopped": self.stopped.value, "first_error": self.first_error,
        }  # fmt: skip


def replay(
    component: str,
    routers_or_router: Routable | Sequence[Routable],
    *,
    rate_per_s: float,
    duration_s: float,
    seed: int = 0,
    stop_event: threading.Event | None = None,
    requests: Iterable[tuple[str, Any]] | None = None,
) -> ReplayStats:
    """Send ``component``'s replayed requests through the router(s) at ``rate_per_s`` for ``duration_s``.

    Several routers (of the same component, e.g. one per simulated service process) take the
    requests in turn. ``requests`` overrides the source, (routing_key, request) pairs; by default
    ``runbook.scenarios.replay.replay_requests(component, count=..., seed=seed)``.
    """
    name = parse_component(str(component)).value
    _check(rate_per_s, duration_s)
    routers = _as_routers(routers_or_router)
    planned = max(1, math.ceil(rate_per_s * duration_s))
    source = iter(requests) if requests is not None else _default_requests(name, planned, seed)
    run = _Run(routers, rate_per_s, duration_s, stop_event)
    stopped = run.drive(source, planned)
    return ReplayStats(
        component=name, rate_per_s=rate_per_s, duration_s=duration_s, planned=planned, sent=run.sent,
        caller_errors=run.errors, elapsed_s=run.elapsed(), max_lag_s=run.max_lag, stopped=stopped,
        first_error=run.first_error,
    )  # fmt: skip


class _Run:
    """The pacing loop's state."""

    def __init__(
        self, routers: list[Routable], rate: float, duration: float, stop_event: threading.Event | None
    ) -> None:
        self.routers, self.rate, self.stop_event = routers, rate, stop_event
        self.start = time.monotonic()
        # The last request is due one interval before the end; it may still leave within its interval.
        self.deadline = self.start + duration + 1.0 / rate
        self.sent = self.errors = 0
        self.max_lag = 0.0
        self.first_error: str | None = None

    def drive(self, source: Iterator[tuple[str, Any]], planned: int) -> StopReason:
        for index in range(planned):
            if not self._wait_until(self.start + index / self.rate):
                return StopReason.STOPPED
            if time.monotonic() >= self.deadline:
                return StopReason.TIME
            try:
                key, request = next(source)
            except StopIteration:
                return StopReason.EXHAUSTED
            self.max_lag = max(self.max_lag, time.monotonic() - (self.start + index / self.rate))
            self._send(self.routers[index % len(self.routers)], key, request)
        return StopReason.COUNT

    def _wait_until(self, due: float) -> bool:
        """Sleep until ``due`` (monotonic seconds); False when stopped meanwhile."""
        delay = due - time.monotonic()
        if self.stop_event is None:
            if delay > 0:
                time.sleep(delay)
            return True
        if delay > 0:
            return not self.stop_event.wait(delay)
        return not self.stop_event.is_set()

    def _send(self, router: Routable, key: str, request: Any) -> None:
        try:
            router.call(request, routing_key=key)
        except Exception as exc:  # noqa: BLE001 - legacy's own exception reaches the caller by contract; count it
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"[:500]
        self.sent += 1

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class BackgroundReplay:
    """A replay on a daemon thread: observe a window while traffic flows, then ``stop()``.

    ``result(timeout_s)`` waits for the thread and returns its ReplayStats (re-raising what
    replay raised, e.g. a bad component).
    """

    def __init__(
        self, component: str, routers_or_router: Routable | Sequence[Routable], **options: Any
    ) -> None:
        self._stop = threading.Event()
        self._stats: ReplayStats | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(component, routers_or_router, options),
            name=f"runbook-replay-{component}", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def _run(self, component: str, routers: Any, options: dict[str, Any]) -> None:
        try:
            self._stats = replay(component, routers, stop_event=self._stop, **options)
        except BaseException as exc:  # noqa: BLE001 - the worker's failure is re-raised in the caller's thread
            self._error = exc

    def stop(self) -> None:
        self._stop.set()

    def result(self, timeout_s: float | None = None) -> ReplayStats:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"replay still running after {timeout_s} s; call stop() first")
        if self._error is not None:
            raise self._error
        assert self._stats is not None
        return self._stats


def _check(rate_per_s: float, duration_s: float) -> None:
    if not (math.isfinite(rate_per_s) and 0 < rate_per_s <= MAX_RATE_PER_S):
        raise BadParameter(
            f"rate_per_s {rate_per_s!r} must be in (0, {MAX_RATE_PER_S:g}] requests per second"
        )
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise BadParameter(f"duration_s {duration_s!r} must be a finite number of seconds > 0")


def _as_routers(routers_or_router: Routable | Sequence[Routable]) -> list[Routable]:
    if callable(getattr(routers_or_router, "call", None)):
        routers: list[Routable] = [routers_or_router]  # type: ignore[list-item]
    else:
        routers = list(routers_or_router)  # type: ignore[arg-type]
    if not routers or not all(callable(getattr(r, "call", None)) for r in routers):
        raise BadParameter("replay needs a router, or a non-empty sequence of routers, with a call() method")
    return routers


def _default_requests(component: str, count: int, seed: int) -> Iterator[tuple[str, Any]]:
    from runbook.scenarios.replay import replay_requests

    return iter(replay_requests(component, count=count, seed=seed))
