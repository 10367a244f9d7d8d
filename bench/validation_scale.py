"""Validation of var_engine over many books: one process vs a 2-worker dask LocalCluster.

Books are seeded random VaR portfolios over the bundled assets (weights, notional, confidence,
horizon). The same PartitionedValidator runs in one process and on a local cluster of
``--workers`` processes (one thread each); performance checks are off in both (they time the
machine, not the numbers). Printed: the load average at start and end; wall time of each, split
into the engines' part and the statistics' part (intersection-union cells on the workers, pooled
tests, backtests and the single-request cross-check in the caller); the cluster's second validation
too (its workers have imported the engines); scenarios per second per worker, peak RSS per worker
(goal <= 1 GiB), and whether the verdicts and every number match (they must).

    .venv/bin/python bench/validation_scale.py [--books 1000] [--historical 10000] [--monte-carlo 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

import numpy as np

from runbook.scenarios.portfolios import Portfolio
from runbook.validation.distributed import InProcess, PartitionedValidator, dask_runner


def books(count: int, seed: int = 0) -> tuple[Portfolio, ...]:
    """``count`` seeded VaR books over the three bundled assets."""
    rng = np.random.default_rng(seed)
    return tuple(
        Portfolio(
            f"BOOK{i:05d}",
            tuple(float(w) for w in rng.dirichlet(np.ones(3))),
            float(rng.uniform(1e6, 5e7)),
            float(rng.choice([0.95, 0.975, 0.99])),
            int(rng.choice([1, 5, 10])),
        )
        for i in range(count)
    )


def comparable(report: Any) -> dict[str, Any]:
    data = json.loads(report.to_json())
    data["summary"].pop("seconds")
    data["summary"].pop("distributed", None)
    return data


def peak_rss() -> int:
    """This process's peak resident set, bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Timed:
    """One validation of var_engine over ``books``: wall time, and the part before the statistics."""

    def __init__(self, runner: Any, books: tuple[Portfolio, ...], size: dict[str, Any]) -> None:
        validator = PartitionedValidator(runner, books=books, check_performance=False)
        validator.history  # noqa: B018 - the bundled market data, loaded outside the timing
        self.stages: dict[str, float] = {}
        started = time.perf_counter()
        self.report = validator.validate_component("var_engine", progress=self._stage, **size)
        self.seconds = round(time.perf_counter() - started, 2)
        self.engines = round(self.stages["statistics"] - started, 2)
        self.statistics = round(self.seconds - self.engines, 2)

    def _stage(self, stage: str, *_: float) -> None:
        self.stages.setdefault(stage, time.perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--books", type=int, default=1_000)
    parser.add_argument("--historical", type=int, default=10_000)
    parser.add_argument("--monte-carlo", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    portfolios = books(args.books)
    size = {"historical": args.historical, "monte_carlo": args.monte_carlo, "seed": 0}
    scenarios = args.historical + args.monte_carlo
    load_start = os.getloadavg()
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}", flush=True)

    one = Timed(InProcess(), portfolios, size)
    alone = one.report
    with dask_runner(workers=args.workers) as runner:
        cold = Timed(runner, portfolios, size)  # the workers import the engines on their first tasks
        warm = Timed(runner, portfolios, size)
        worker_rss = runner.client.run(peak_rss)
    spread = cold.report
    load_end = os.getloadavg()
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    figures = {
        "bench": "validation_scale", "books": args.books, "historical": args.historical,
        "monte_carlo": args.monte_carlo, "workers": args.workers,
        "one_process_s": one.seconds, "dask_s": cold.seconds, "dask_again_s": warm.seconds,
        "one_process_engines_s": one.engines, "one_process_statistics_s": one.statistics,
        "dask_engines_s": cold.engines, "dask_statistics_s": cold.statistics,
        "scenarios_per_s_per_worker": round(scenarios / cold.seconds / args.workers),
        "scenarios_per_s_per_worker_again": round(scenarios / warm.seconds / args.workers),
        "peak_rss_per_worker_mib": round(max(worker_rss.values()) / 2**20, 1),
        "verdict_one_process": alone.passed, "verdict_dask": spread.passed,
        "verdicts_match": alone.passed == spread.passed == warm.report.passed,
        "numbers_match": comparable(alone) == comparable(spread) == comparable(warm.report),
        "partitions": spread.summary["distributed"]["partitions"],
        "load_average_start": round(load_start[0], 2), "load_average_end": round(load_end[0], 2),
    }  # fmt: skip
    print(
        f"var_engine, {args.books} books, {args.historical} historical + {args.monte_carlo} MC: "
        f"one process {one.seconds} s (engines {one.engines} s, statistics {one.statistics} s); "
        f"{args.workers} dask workers {cold.seconds} s (engines {cold.engines} s, statistics "
        f"{cold.statistics} s), {warm.seconds} s once warm ({figures['scenarios_per_s_per_worker']} / "
        f"{figures['scenarios_per_s_per_worker_again']} scenarios/s per worker, peak RSS per worker "
        f"{figures['peak_rss_per_worker_mib']} MiB); verdicts match: {figures['verdicts_match']}, "
        f"numbers match: {figures['numbers_match']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
