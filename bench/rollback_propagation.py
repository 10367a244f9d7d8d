"""Time from `runbook rollback` to every router process serving legacy, on SQLite and PostgreSQL.

Eight router processes (multiprocessing, spawn) each wrap var_engine in a Router on the store
(pushed changes: LISTEN/NOTIFY on PostgreSQL, a 20 ms file watch on SQLite; the 0.25 s poll as
fallback) and call it every 2 ms with a routing key that a 50% canary sends to the candidate.
Each process reports, through a queue, every change of which engine served it, with
CLOCK_MONOTONIC (shared by all processes on the machine).

Each round: the parent puts var_engine in canary 50% (ProductionSafetyManager), waits until all
eight processes are served by the candidate, waits a random 0-0.5 s (so the rollback lands at a
random point of each process's poll cycle, as a page at 3 am would), then starts the real command
`runbook rollback var_engine --reason bench` as a subprocess and measures from the moment it
starts until the last process reports being served by legacy. The command's own run time
(Python start-up, imports, the write, the read-back) is part of the figure. A second series rolls back
in-process with ProductionSafetyManager (the path of the automatic monitor) and measures from the
commit (the call's return) to the last router on legacy: the push itself. Percentiles over the
rounds (p99 of 20 rounds is their maximum).

    .venv/bin/python bench/rollback_propagation.py [--rounds 20] [--manager-rounds 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import temporary_postgres

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COMPONENT = "var_engine"
PROCESSES = 8
CALL_PAUSE_S = 0.002
RUNBOOK = Path(sys.executable).with_name("runbook")


def served_by_legacy() -> str:
    return "legacy"


def served_by_candidate() -> str:
    return "candidate"


def router_process(url: str, key: str, reports: mp.Queue, stop: mp.Event) -> None:
    """One production service: calls its router in a loop, reports each change of engine."""
    from runbook.control import Store
    from runbook.runtime import Router

    store = Store.from_url(url, upgrade=False)
    router = Router(COMPONENT, legacy=served_by_legacy, candidate=served_by_candidate, state_source=store)
    reports.put((os.getpid(), "ready", time.monotonic()))
    last = None
    while not stop.is_set():
        served = router.call(routing_key=key)
        if served != last:
            reports.put((os.getpid(), served, time.monotonic()))
            last = served
        time.sleep(CALL_PAUSE_S)
    router.close()
    store.dispose()


def canary_keys(count: int) -> list[str]:
    from runbook.runtime import routing_point

    keys = (f"portfolio-{i}" for i in range(10_000))
    return [k for k in keys if routing_point(COMPONENT, k) < 0.5][:count]


class Fleet:
    """The router processes and what each last reported."""

    def __init__(self, url: str) -> None:
        ctx = mp.get_context("spawn")
        self.reports: mp.Queue = ctx.Queue()
        self.stop = ctx.Event()
        self.processes = [
            ctx.Process(target=router_process, args=(url, key, self.reports, self.stop), daemon=True)
            for key in canary_keys(PROCESSES)
        ]
        self.latest: dict[int, tuple[str, float]] = {}
        for process in self.processes:
            process.start()
        self.wait_all(lambda _state, _at: True, timeout_s=120)

    def wait_all(self, done, *, timeout_s: float) -> dict[int, float]:
        """Drain reports until ``done(state, at)`` holds for every process; their report times."""
        deadline = time.monotonic() + timeout_s
        while True:
            if len(self.latest) == PROCESSES and all(done(*v) for v in self.latest.values()):
                return {pid: at for pid, (_state, at) in self.latest.items()}
            try:
                pid, state, at = self.reports.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"router processes did not converge: {self.latest}") from None
            self.latest[pid] = (state, at)

    def close(self) -> None:
        self.stop.set()
        for process in self.processes:
            process.join(10)


def run_rounds(url: str, *, rounds: int, via_cli: bool, fleet: Fleet) -> list[tuple[float, float]]:
    """(propagation seconds, command seconds) of each rollback, both from the command's start."""
    from runbook.control import ProductionSafetyManager, Store

    store = Store.from_url(url)
    manager = ProductionSafetyManager(store, actor="bench")
    env = {**os.environ, "RUNBOOK_DATABASE_URL": url}
    results = []
    phase = random.Random(11)
    for _ in range(rounds):
        manager.enable_shadow_mode(COMPONENT, reason="bench")
        manager.enable_canary_deployment(COMPONENT, 50, reason="bench")
        fleet.wait_all(lambda state, _at: state == "candidate", timeout_s=60)
        time.sleep(phase.uniform(0.0, 0.5))
        start = time.monotonic()
        if via_cli:
            subprocess.run([str(RUNBOOK), "rollback", COMPONENT, "--reason", "bench"], env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        else:
            manager.rollback_component(COMPONENT, reason="bench")
        command_s = time.monotonic() - start
        served = fleet.wait_all(lambda state, at, t0=start: state == "legacy" and at >= t0, timeout_s=60)
        # CLI: from the command's start; in-process: from the commit (the call's return).
        origin = start if via_cli else start + command_s
        results.append((max(served.values()) - origin, command_s))
    store.dispose()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(url: str, *, rounds: int, manager_rounds: int) -> dict[str, float]:
    from runbook.control import Store

    Store.from_url(url).dispose()  # schema in place before the fleet starts
    fleet = Fleet(url)
    try:
        cli = run_rounds(url, rounds=rounds, via_cli=True, fleet=fleet)
        direct = run_rounds(url, rounds=manager_rounds, via_cli=False, fleet=fleet) if manager_rounds else []
    finally:
        fleet.close()
    propagation = [p for p, _ in cli]
    after_command = [p - c for p, c in cli]  # routers' own lag once the command has returned
    figures = {"p50_s": statistics.median(propagation), "p99_s": percentile(propagation, 0.99),
               "max_s": max(propagation), "command_p50_s": statistics.median(c for _, c in cli),
               "after_command_p99_s": percentile(after_command, 0.99), "rounds": len(cli)}  # fmt: skip
    if direct:
        figures["after_commit_p50_s"] = statistics.median(p for p, _ in direct)
        figures["after_commit_p99_s"] = percentile([p for p, _ in direct], 0.99)
    return figures

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="CLI rollbacks per backend")
    parser.add_argument("--manager-rounds", type=int, default=10, help="in-process rollbacks per backend")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="admin URL of the PostgreSQL server")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'rollback.db'}", rounds=args.rounds,
                                    manager_rounds=args.manager_rounds)  # fmt: skip
    with temporary_postgres(args.postgres) as url:
        results["postgres"] = measure(url, rounds=args.rounds, manager_rounds=args.manager_rounds)

    print(f"{PROCESSES} router processes, push + refresh_interval_s=0.25 fallback, a call every "
          f"{CALL_PAUSE_S * 1e3:g} ms; goals: after the commit p99 <= 0.050 s (PostgreSQL), command "
          "start -> all on legacy p99 <= 0.300 s")  # fmt: skip
    for backend, fig in results.items():
        line = (f"{backend:<9} `runbook rollback` -> all serving legacy: p50 {fig['p50_s']:.3f} s, "
                f"p99 {fig['p99_s']:.3f} s, max {fig['max_s']:.3f} s over {fig['rounds']} rollbacks "
                f"(the command itself: p50 {fig['command_p50_s']:.3f} s; routers after it returned: "
                f"p99 {fig['after_command_p99_s']:.3f} s)")  # fmt: skip
        print(line)
        if "after_commit_p50_s" in fig:
            print(f"{'':<9} commit -> all serving legacy (in-process rollback_component): p50 "
                  f"{fig['after_commit_p50_s']:.3f} s, p99 {fig['after_commit_p99_s']:.3f} s")  # fmt: skip
    summary = {f"{backend}_{key}": value for backend, fig in results.items() for key, value in fig.items()}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}))


if __name__ == "__main__":
    main()
