"""Error rates of the performance gate on a busy machine (measured, not a test).

Two CPU-burning processes run beside the gate the whole time (on top of whatever else the machine
runs). Conditions, each ``--runs`` times:

- latency, legacy against itself: false alarms (FAIL) must be 0;
- latency, a candidate doing exactly 1.3x legacy's work: detections (FAIL) must be >= 95%;
- memory, legacy against itself: false alarms must be 0;
- memory, a candidate holding 1.7x legacy's peak: detections must be >= 95%.

The engine is the legacy VaR batch on ``--scenarios`` historical scenarios; "1.3x the work" is 13
calls against 10. Prints a table and, last, one JSON line with the rates.

    python bench/validation_noise.py [--runs 200] [--scenarios 30] [--burners 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Callable

import numpy as np

from runbook.domain.components import Component
from runbook.engines.registry import load_pair
from runbook.scenarios.loader import load_market_history
from runbook.validation.adapters import ADAPTERS
from runbook.validation.performance import (
    LATENCY_POLICY,
    MEMORY_FLOOR_BYTES,
    MEMORY_POLICY,
    PerformanceGate,
    peak_bytes,
    repeats_for,
    timer,
)
from runbook.validation.performance_gate import Outcome, run_gate


def _burn(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def _engine_call(scenarios: int) -> Callable[[], object]:
    adapter = ADAPTERS[Component.VAR_ENGINE]
    sets = adapter.historical(load_market_history(), count=scenarios, seed=0)
    legacy = load_pair("var_engine").legacy
    return lambda: adapter.run_historical(legacy, sets)


def _times(call: Callable[[], object], k: int) -> Callable[[], object]:
    def run() -> None:
        for _ in range(k):
            call()

    return run


def _hungry(call: Callable[[], object], extra_bytes: float) -> Callable[[], object]:
    def run() -> object:
        ballast = np.ones(int(extra_bytes // 8))
        result = call()
        del ballast
        return result

    return run


def _condition(name: str, runs: int, once: Callable[[], Outcome | tuple[Outcome, int]]) -> dict[str, object]:
    started = time.perf_counter()
    outcomes, rounds = [], []
    for _ in range(runs):
        outcome, used = once()  # type: ignore[misc]
        outcomes.append(outcome)
        rounds.append(used)
    counts = {o.value: outcomes.count(o) for o in Outcome}
    row = {
        "condition": name,
        "runs": runs,
        **counts,
        "fail_rate": counts["fail"] / runs,
        "median_rounds": float(np.median(rounds)),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(
        f"{name:<26} runs {runs:>4}  FAIL {counts['fail']:>4}  PASS {counts['pass']:>4}  "
        f"INCONCLUSIVE {counts['inconclusive']:>4}  median rounds {row['median_rounds']:>5.0f}  "
        f"{row['seconds']:>7.1f} s",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description="false-alarm and detection rates of the performance gate")
    parser.add_argument("--runs", type=int, default=200, help="runs per condition")
    parser.add_argument("--scenarios", type=int, default=30, help="historical VaR scenarios per engine call")
    parser.add_argument("--burners", type=int, default=2, help="CPU-burning processes beside the gate")
    args = parser.parse_args()

    base = _engine_call(args.scenarios)
    legacy, slower = _times(base, 10), _times(base, 13)
    legacy(), slower()
    gate = PerformanceGate()
    sample = timer(gate.clock, repeats_for(legacy, gate.clock, gate.min_measure_s))
    peak = peak_bytes(base)
    hungry = _hungry(base, 0.7 * (peak + MEMORY_FLOOR_BYTES))

    def memory(call: Callable[[], object]) -> float:
        return peak_bytes(call) + MEMORY_FLOOR_BYTES

    def latency_once(candidate: Callable[[], object]) -> Callable[[], tuple[Outcome, int]]:
        def once() -> tuple[Outcome, int]:
            result = run_gate(legacy, candidate, sample, LATENCY_POLICY)
            return result.outcome, result.rounds

        return once

    def memory_once(candidate: Callable[[], object]) -> Callable[[], tuple[Outcome, int]]:
        def once() -> tuple[Outcome, int]:
            result = run_gate(base, candidate, memory, MEMORY_POLICY)
            return result.outcome, result.rounds

        return once

    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=_burn, args=(stop,), daemon=True) for _ in range(args.burners)]
    for process in burners:
        process.start()
    print(
        f"{args.burners} CPU burners running; {multiprocessing.cpu_count()} cores; legacy VaR batch of "
        f"{args.scenarios} scenarios x 10 calls per measurement; clock {gate.clock.__name__}",
        flush=True,
    )
    try:
        rows = [
            _condition("latency legacy vs legacy", args.runs, latency_once(_times(base, 10))),
            _condition("latency 1.3x slower", args.runs, latency_once(slower)),
            _condition("memory legacy vs legacy", args.runs, memory_once(base)),
            _condition("memory 1.7x", args.runs, memory_once(hungry)),
        ]
    finally:
        stop.set()
        for process in burners:
            process.join(timeout=5)
    figures = {
        "runs": args.runs,
        "burners": args.burners,
        "latency_false_alarm_rate": rows[0]["fail_rate"],
        "latency_detection_rate_1_3x": rows[1]["fail_rate"],
        "memory_false_alarm_rate": rows[2]["fail_rate"],
        "memory_detection_rate_1_7x": rows[3]["fail_rate"],
        "latency_inconclusive_self": rows[0]["inconclusive"],
        "latency_inconclusive_1_3x": rows[1]["inconclusive"],
    }
    figures["goal_met"] = (
        rows[0]["fail"] == 0
        and rows[2]["fail"] == 0
        and figures["latency_detection_rate_1_3x"] >= 0.95  # type: ignore[operator]
        and figures["memory_detection_rate_1_7x"] >= 0.95  # type: ignore[operator]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
