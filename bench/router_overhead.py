"""Caller-path latency added by the Router, per mode, against a direct call of the same engine.

The engine is a cheap, realistic one: a parametric VaR-style dot product of 10 position weights
with 10 returns (numpy), about a microsecond. Every mode runs in this one process with an
ObservationRecorder writing to a real SQLite store in the background, as a service would have.

For each mode and run, a loop of direct calls (the baseline) is followed by a loop of routed
calls, each call timed with perf_counter_ns; added latency is the routed percentile minus the
baseline percentile, so it includes the GIL time the router's background threads take. Shadow is
measured paced (a service doing other work between calls: every call is shadowed, skips are
reported) and flat out (calls back to back: the queue fills and shadow calls are skipped, by
design, rather than slowing the caller). Canary (50% of keys on the candidate) is measured with
both candidate isolations: ``thread`` (the default: a sync candidate runs on the router's
candidate threads, so a hang costs the caller its budget, not its thread) and ``inline`` (on the
caller's thread: no hand-off, no protection against a hang). Figures are medians over several runs.

    .venv/bin/python bench/router_overhead.py [--calls 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from runbook.domain.modes import Mode
from runbook.runtime import InMemoryStateSource, ObservationRecorder, Router, connect

COMPONENT = "var_engine"
WEIGHTS = np.linspace(0.02, 0.18, 10)
WEIGHTS /= WEIGHTS.sum()
RETURNS = np.random.default_rng(7).normal(0.0, 0.01, 10)
KEYS = [f"portfolio-{i}" for i in range(1_000)]
PACE_S = 100e-6  # time.sleep between paced calls (releases the GIL, like a service's own I/O)


def legacy(returns: np.ndarray) -> float:
    return float(np.dot(WEIGHTS, returns))


def candidate(returns: np.ndarray) -> float:
    return float((WEIGHTS * returns).sum())


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1_000.0


def time_calls(call, calls: int, *, paced: bool) -> list[int]:
    """Sorted latencies in ns of ``calls`` calls of ``call(key)``."""
    clock = time.perf_counter_ns
    latencies: list[int] = []
    for i in range(calls):
        key = KEYS[i % len(KEYS)]
        t0 = clock()
        call(key)
        latencies.append(clock() - t0)
        if paced:
            time.sleep(PACE_S)
    latencies.sort()
    return latencies


def measure(router: Router, calls: int, *, paced: bool) -> dict[str, float]:
    """One run: a direct-call baseline, then the same calls through the router (p50/p99 in us).

    Separate loops, so that added latency includes everything the router costs the caller's
    thread: its own code and the time its background threads hold the GIL.
    """
    direct = time_calls(lambda _key: legacy(RETURNS), calls, paced=paced)
    routed = time_calls(lambda key: router.call(RETURNS, routing_key=key), calls, paced=paced)
    figures = {f"{name}_p{q}_us": percentile(data, q / 100)
               for name, data in (("direct", direct), ("routed", routed)) for q in (50, 99)}  # fmt: skip
    figures["added_p50_us"] = figures["routed_p50_us"] - figures["direct_p50_us"]
    figures["added_p99_us"] = figures["routed_p99_us"] - figures["direct_p99_us"]
    return figures


def run_mode(router: Router, source: InMemoryStateSource, mode: Mode, fraction: float | None, *,
             calls: int, runs: int, paced: bool) -> dict[str, float]:  # fmt: skip
    source.set_mode(COMPONENT, mode, traffic_fraction=fraction)
    router.refresh()
    measure(router, min(calls, 2_000), paced=paced)  # warm-up
    router.flush()
    before = router.stats()
    results = [measure(router, calls, paced=paced) for _ in range(runs)]
    router.flush()
    after = router.stats()
    figures = {name: statistics.median(r[name] for r in results) for name in results[0]}
    shadowed = sum(after[k] - before[k] for k in after if k.startswith("shadow_") and k.split("_", 1)[1] in
                   ("ok", "exception", "timeout", "invalid_result", "legacy_exception"))  # fmt: skip
    figures["shadowed_calls"] = shadowed
    figures["shadow_skipped"] = after["shadow_skipped_queue_full"] - before["shadow_skipped_queue_full"]
    figures["candidate_answers"] = after["answered_by_candidate"] - before["answered_by_candidate"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per run and mode")
    parser.add_argument("--runs", type=int, default=5, help="runs per mode (the median is reported)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store, sink = connect(f"sqlite:///{Path(tmp) / 'bench.db'}")
        source = InMemoryStateSource()  # modes are switched in-process; the store takes observations
        recorder = ObservationRecorder(sink)
        routers = {isolation: Router(COMPONENT, legacy=legacy, candidate=candidate, state_source=source,
                                     recorder=recorder, candidate_isolation=isolation)
                   for isolation in ("thread", "inline")}  # fmt: skip
        plan = [("legacy", Mode.LEGACY, None, False, "thread"),
                ("shadow", Mode.SHADOW, None, True, "thread"),
                ("shadow_flat_out", Mode.SHADOW, None, False, "thread"),
                ("canary", Mode.CANARY, 0.5, False, "thread"),
                ("canary_inline", Mode.CANARY, 0.5, False, "inline"),
                ("full", Mode.FULL, None, False, "thread"),
                ("full_inline", Mode.FULL, None, False, "inline")]  # fmt: skip
        report: dict[str, dict[str, float]] = {}
        for name, mode, fraction, paced, isolation in plan:
            calls_per_run = args.calls // 4 if paced else args.calls
            report[name] = run_mode(routers[isolation], source, mode, fraction, calls=calls_per_run,
                                    runs=args.runs, paced=paced)  # fmt: skip
        for router in routers.values():
            router.close()
        recorder.close()
        written = recorder.stats()
        store.dispose()

    print(f"engine: 10-weight dot product; {args.runs} runs per mode; recorder -> SQLite")
    print(f"{'mode':<16}{'direct p50':>11}{'direct p99':>11}{'routed p50':>11}{'routed p99':>11}"
          f"{'added p50':>11}{'added p99':>11}{'shadowed':>10}{'skipped':>9}")  # fmt: skip
    for name, fig in report.items():
        print(f"{name:<16}{fig['direct_p50_us']:>11.2f}{fig['direct_p99_us']:>11.2f}{fig['routed_p50_us']:>11.2f}"
              f"{fig['routed_p99_us']:>11.2f}{fig['added_p50_us']:>11.2f}{fig['added_p99_us']:>11.2f}"
              f"{int(fig['shadowed_calls']):>10}{int(fig['shadow_skipped']):>9}")  # fmt: skip
    print(f"(microseconds; recorder wrote {written['written']} observations, dropped {written['dropped']})")
    summary = {"shadow_added_p50_us": report["shadow"]["added_p50_us"],
               "shadow_added_p99_us": report["shadow"]["added_p99_us"],
               "shadow_skipped": int(report["shadow"]["shadow_skipped"]),
               "shadow_flat_out_added_p50_us": report["shadow_flat_out"]["added_p50_us"],
               "shadow_flat_out_added_p99_us": report["shadow_flat_out"]["added_p99_us"],
               "shadow_flat_out_skipped": int(report["shadow_flat_out"]["shadow_skipped"]),
               "canary_added_p50_us": report["canary"]["added_p50_us"],
               "canary_added_p99_us": report["canary"]["added_p99_us"],
               "canary_inline_added_p50_us": report["canary_inline"]["added_p50_us"],
               "canary_inline_added_p99_us": report["canary_inline"]["added_p99_us"],
               "legacy_added_p50_us": report["legacy"]["added_p50_us"],
               "legacy_added_p99_us": report["legacy"]["added_p99_us"],
               "full_added_p50_us": report["full"]["added_p50_us"],
               "full_added_p99_us": report["full"]["added_p99_us"],
               "full_inline_added_p50_us": report["full_inline"]["added_p50_us"],
               "full_inline_added_p99_us": report["full_inline"]["added_p99_us"],
               "observations_written": written["written"],
               "observations_dropped": written["dropped"]}  # fmt: skip
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}))


if __name__ == "__main__":
    main()
