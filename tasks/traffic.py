"""Traffic replay as a task: drive the component's router with bundled real requests for a window."""

from __future__ import annotations

from runbook.domain.evidence import TrafficWindow
from runbook.orchestration.context import PhaseContext
from tasks._base import runbook_task


@runbook_task(name="replay-traffic")
def replay_traffic(
    component: str, *, context: PhaseContext, rate_per_s: float, duration_s: float, seed: int = 0,
    fault: str | None = None,
) -> TrafficWindow:
    """Replay ``rate_per_s`` calls per second for ``duration_s`` seconds through a recording router.

    The router follows the store's state (shadow, canary, full) like a production service would;
    every call becomes an observation in the store. ``fault`` injects a named defect into the
    candidate (demos and drills).
    """
    from runbook.engines.registry import load_pair
    from runbook.traffic import run_replay

    pair = load_pair(component, engines_config=context.settings.engines, fault=fault)
    stats = run_replay(context.store, component, pair, rate_per_s=rate_per_s, duration_s=duration_s,
                       seed=seed)
    return TrafficWindow(component, stats.sent, stats.to_dict())


@runbook_task(name="observe-production")
def observe_production(component: str, *, context: PhaseContext, duration_s: float) -> TrafficWindow:
    """Wait ``duration_s`` seconds while production services call the component's routers.

    Their observations reach the store through their own recorders; nothing is replayed.
    """
    import time

    from runbook.control.observations import ObservationStore

    started = context.clock()
    time.sleep(duration_s)
    return TrafficWindow(component, ObservationStore(context.store).count(component, since=started))
