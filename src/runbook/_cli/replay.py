"""``runbook replay COMPONENT --rate N --seconds S``: drive a component's router with replayed traffic.

Light on purpose: argparse only at import time; the store, engines and market data load in the handler.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``replay`` to the ``runbook`` parser."""
    parser = subparsers.add_parser(
        "replay",
        help="send replayed market-history requests through a component's router at a set rate",
        description=(
            "Route COMPONENT's requests, drawn from the bundled market history, through a router on "
            "the state store at RATE per second for SECONDS; the router records observations as in "
            "production (shadow, canary and full modes record; legacy and rolled_back do not)."
        ),
    )
    parser.add_argument("component")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long, in seconds (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="request sampling seed (default 0)")
    parser.add_argument("--fault", default=None, help="replay against a shipped faulty candidate (demo)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.control.observations import ObservationStore
    from runbook.control.store import Store
    from runbook.domain.components import parse_component
    from runbook.engines.registry import load_pair
    from runbook.traffic import run_replay

    component = parse_component(args.component).value
    pair = load_pair(component, engines_config=settings.engines, fault=args.fault)
    with Store.from_settings(settings) as store:
        state = store.state(component)
        started = time.time()
        stats = run_replay(
            store, component, pair, rate_per_s=args.rate, duration_s=args.seconds, seed=args.seed,
            refresh_interval_s=settings.refresh_interval_s, max_staleness_s=settings.max_staleness_s,
        )  # fmt: skip
        written = ObservationStore(store).count(component, since=started)
    figures = {**stats.to_dict(), "mode": state.mode.value, "traffic_percent": state.traffic_percent,
               "observations_written": written}  # fmt: skip
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"{component} ({state.mode.value}"
        + (f" {state.traffic_percent:g}%" if state.mode.value == "canary" else "")
        + f"): {stats.sent} requests in {stats.elapsed_s:.1f} s "
        f"({stats.achieved_rate_per_s:.0f}/s, target {stats.rate_per_s:g}/s, "
        f"stopped by {stats.stopped.value}); "
        f"{written} observations written; {stats.caller_errors} errors raised to the caller"
    )
    if state.mode.value in ("legacy", "rolled_back"):
        print(f"note: {component} is in mode {state.mode.value!r}; routers record nothing there "
              f"(run 'runbook shadow {component}' first)")  # fmt: skip
    return 0
