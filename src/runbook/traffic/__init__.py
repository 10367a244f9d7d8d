"""Traffic replay: a load generator that drives routers with requests drawn from the bundled real
market history, at a chosen rate, so shadow and canary windows hold real observations.

    from runbook.traffic import run_replay
    stats = run_replay(store, "var_engine", load_pair("var_engine"), rate_per_s=200, duration_s=10)
"""

from runbook.traffic._replay import BackgroundReplay, ReplayStats, StopReason, replay
from runbook.traffic._wiring import build_router, make_recorder, run_replay

__all__ = [
    "BackgroundReplay",
    "ReplayStats",
    "StopReason",
    "build_router",
    "make_recorder",
    "replay",
    "run_replay",
]
