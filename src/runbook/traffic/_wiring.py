"""Wiring a replay to the control store: a Router on the store's state, recording to its observations."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from runbook.traffic._replay import ReplayStats, replay

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.runtime import ObservationRecorder, Router

__all__ = ["build_router", "make_recorder", "run_replay"]


def make_recorder(store: Store, **options: Any) -> ObservationRecorder:
    """An ObservationRecorder writing to ``store``'s observations table (options as the recorder's)."""
    from runbook.control.observations import ObservationStore
    from runbook.runtime import ObservationRecorder

    return ObservationRecorder(ObservationStore(store), **options)


def build_router(
    store: Store, component: str, pair: Any, *, recorder: ObservationRecorder | None, **router_options: Any
) -> Router:
    """A Router of ``component`` between ``pair.call_legacy`` and ``pair.call_candidate``.

    The store is the router's state source (a mode change reaches it within the refresh interval);
    ``recorder`` (see ``make_recorder``) takes its observations; None records nothing. The caller
    closes the router, then the recorder. ``router_options`` go to ``Router`` unchanged.
    """
    from runbook.runtime import Router

    return Router(
        component,
        legacy=pair.call_legacy,
        candidate=pair.call_candidate,
        state_source=store,
        recorder=recorder,
        **router_options,
    )


def run_replay(
    store: Store,
    component: str,
    pair: Any,
    *,
    rate_per_s: float,
    duration_s: float,
    seed: int = 0,
    stop_event: threading.Event | None = None,
    flush_timeout_s: float = 30.0,
    **router_options: Any,
) -> ReplayStats:
    """Build a recording router on ``store``, replay through it, and write every observation.

    Returns when the replay stopped and its observations are in the store (or ``flush_timeout_s``
    passed). The router and the recorder are closed on return.
    """
    recorder = make_recorder(store)
    try:
        router = build_router(store, component, pair, recorder=recorder, **router_options)
        try:
            router.refresh()
            stats = replay(
                component,
                router,
                rate_per_s=rate_per_s,
                duration_s=duration_s,
                seed=seed,
                stop_event=stop_event,
            )
            router.flush(flush_timeout_s)
        finally:
            router.close()
    finally:
        recorder.close(flush_timeout_s)
    return stats
