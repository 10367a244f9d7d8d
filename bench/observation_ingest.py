"""Observations per second the ObservationRecorder sustains into SQLite and PostgreSQL.

Two measurements per backend and run, through control's real ObservationStore:

- capacity: a caller thread records as fast as it can (bursts of 500, then a 1 ms pause, like a
  busy service), for a few seconds; ``per_s`` is observations written / time until the last one
  is in the database. When the writer cannot keep up, the queue fills and the recorder drops
  (counted) instead of blocking the caller.
- steady: a caller records at 20,000 per second (the goal); every observation must be written,
  none dropped.

Both report the caller's enqueue latency (p99, max), which is what ``record()`` costs a caller.
PostgreSQL runs in a temporary database created and dropped by the bench. Medians over runs.

    .venv/bin/python bench/observation_ingest.py [--seconds 3] [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import temporary_postgres

from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.runtime import ObservationRecorder, connect

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STEADY_RATE = 20_000
BURST = 500


def observations(count: int) -> list[Observation]:
    """Realistic shadow observations (digests, differences, latencies), built before timing."""
    return [
        Observation(
            component="var_engine",
            mode="shadow",
            route=Route.LEGACY,
            routing_key=f"portfolio-{i % 997}",
            at=1_700_000_000.0 + i * 1e-4,
            legacy_latency_us=850.0 + i % 13,
            candidate_latency_us=790.0 + i % 7,
            error_kind=ErrorKind.NONE,
            abs_difference=1e-9 * (i % 5),
            rel_difference=1e-12 * (i % 5),
            legacy_digest=f"{i:016x}",
            candidate_digest=f"{i + 1:016x}",
            memory_bytes=0,
            epoch=2,
        )
        for i in range(count)
    ]


def percentile_us(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1_000.0


def produce(recorder: ObservationRecorder, pool: list[Observation], *, seconds: float, rate: float | None):
    """Record for ``seconds``; ``rate`` per second, or flat out in bursts. Returns (offered, latencies)."""
    clock = time.perf_counter_ns
    latencies: list[int] = []
    offered = 0
    start = time.perf_counter()
    per_ms = None if rate is None else rate / 1_000.0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = BURST if per_ms is None else int(elapsed * 1_000.0 * per_ms) - offered + 1
        for _ in range(max(0, min(due, BURST))):
            obs = pool[offered % len(pool)]
            t0 = clock()
            recorder.record(obs)
            latencies.append(clock() - t0)
            offered += 1
        time.sleep(0.001)
    latencies.sort()
    return offered, latencies


def one_run(url: str, pool: list[Observation], *, seconds: float, rate: float | None) -> dict[str, float]:
    store, sink = connect(url)
    recorder = ObservationRecorder(sink)
    try:
        start = time.perf_counter()
        offered, latencies = produce(recorder, pool, seconds=seconds, rate=rate)
        recorder.flush(timeout_s=120)
        done = time.perf_counter() - start
        stats = recorder.stats()
    finally:
        recorder.close()
        store.dispose()
    return {
        "per_s": stats["written"] / done, "offered": offered, "written": stats["written"],
        "dropped": stats["dropped"], "lost": stats["lost"],
        "enqueue_p99_us": percentile_us(latencies, 0.99), "enqueue_max_us": latencies[-1] / 1_000.0,
    }  # fmt: skip


def measure(url: str, pool: list[Observation], *, seconds: float, runs: int) -> dict[str, float]:
    capacity = [one_run(url, pool, seconds=seconds, rate=None) for _ in range(runs)]
    steady = [one_run(url, pool, seconds=seconds, rate=STEADY_RATE) for _ in range(runs)]
    figures = {f"capacity_{k}": statistics.median(r[k] for r in capacity) for k in capacity[0]}
    figures.update({f"steady_{k}": statistics.median(r[k] for r in steady) for k in steady[0]})
    figures["steady_dropped_total"] = sum(r["dropped"] for r in steady)
    return figures

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="producing time per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=POSTGRES_URL, help="admin URL of the PostgreSQL server")
    args = parser.parse_args()
    pool = observations(50_000)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'ingest.db'}", pool, seconds=args.seconds,
                                    runs=args.runs)  # fmt: skip
    with temporary_postgres(args.postgres) as url:
        results["postgres"] = measure(url, pool, seconds=args.seconds, runs=args.runs)

    print(f"ObservationRecorder(queue_size=100000, batch_size=1000) -> ObservationStore; {args.runs} runs, "
          f"{args.seconds:g} s each; medians")  # fmt: skip
    for backend, fig in results.items():
        print(
            f"{backend:<9} capacity {fig['capacity_per_s']:>9,.0f} obs/s written "
            f"(offered {fig['capacity_offered']:,.0f}, dropped {fig['capacity_dropped']:,.0f}); "
            f"enqueue p99 {fig['capacity_enqueue_p99_us']:.2f} us, "
            f"max {fig['capacity_enqueue_max_us']:.0f} us"
        )
        print(
            f"{'':<9} steady {STEADY_RATE:,}/s: written {fig['steady_written']:,.0f} of "
            f"{fig['steady_offered']:,.0f}, dropped {fig['steady_dropped_total']:,.0f}; "
            f"enqueue p99 {fig['steady_enqueue_p99_us']:.2f} us, max {fig['steady_enqueue_max_us']:.0f} us"
        )
    summary = {"sqlite_per_s": results["sqlite"]["capacity_per_s"],
               "postgres_per_s": results["postgres"]["capacity_per_s"]}  # fmt: skip
    for backend, fig in results.items():
        summary[f"{backend}_capacity_dropped"] = fig["capacity_dropped"]
        summary[f"{backend}_steady_20k_dropped"] = fig["steady_dropped_total"]
        for stat in ("p99", "max"):
            key = f"enqueue_{stat}_us"
            summary[f"{backend}_{key}"] = max(fig[f"capacity_{key}"], fig[f"steady_{key}"])
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()}))


if __name__ == "__main__":
    main()
