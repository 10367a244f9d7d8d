"""Bounded observations at scale: the monitor's window query and a prune on 10 million rows.

Per backend (SQLite file, PostgreSQL in a temporary database):

1. fill ``--rows`` observations spread over ``--days`` days up to now, generated inside the
   database (untimed setup; four components, one error in a thousand);
2. ingest: 200,000 observations through an ``ObservationRecorder`` (the routers' path: batches of
   up to 1,000 written by its background thread) into the full table (goal >= 20,000 / s);
3. rollup of a day: ``roll_up`` of the oldest day (one eighth of the rows by default), the database
   aggregating per minute, as ``runbook observations prune`` does before it deletes;
4. prune of a day: ``delete_raw_before`` the end of that day, the prune's hourly deletes (goal <= 5 s);
5. rollup of the last hour (the watermark first set an hour back, standing for the every-minute
   rollups of the monitor flow over the days between): rows per second;
6. the monitor's window query: ``window_summary`` of one component over the last 5 minutes,
   median of 7 (goal <= 100 ms), and the same window read raw for comparison.

The load average is printed with the figures: the machine may be shared.

    .venv/bin/python bench/observation_scale.py [--rows 10000000] [--days 8] [--backend both]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import temporary_postgres
from sqlalchemy import text

from runbook.control import ObservationStore, Store
from runbook.control.rollups import RollupStore, minute_of
from runbook.domain.observation import ErrorKind, Route
from runbook.monitoring.retention import SETTLE_S, roll_up, window_summary
from runbook.runtime import ObservationRecorder

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAY = 86_400.0
COLUMNS = (
    "component, mode, route, routing_key, at, legacy_latency_us, candidate_latency_us, error_kind, "
    "abs_difference, rel_difference, legacy_digest, candidate_digest, memory_bytes, epoch"
)
SELECT = (
    "CASE i % 4 WHEN 0 THEN 'var_engine' WHEN 1 THEN 'hedge_calculator' "
    "WHEN 2 THEN 'performance_analyzer' ELSE 'correlation_analyzer' END, 'shadow', 'legacy', "
    "'book-' || (i % 997), :t0 + i * :step, 800.0 + i % 13, 790.0 + i % 7, "
    "CASE WHEN i % 1000 = 0 THEN 'timeout' ELSE 'none' END, 1e-9, 1e-12, NULL, NULL, 0, 1"
)
FILL = {
    "sqlite": "WITH RECURSIVE s(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM s WHERE i + 1 < :hi) "
    f"INSERT INTO observations ({COLUMNS}) SELECT {SELECT} FROM s",
    "postgresql": f"INSERT INTO observations ({COLUMNS}) SELECT {SELECT} "
    "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) AS i",
}


def fill(store: Store, rows: int, days: float, now: float) -> float:
    """``rows`` observations evenly over ``days`` days ending at ``now``; returns rows per second."""
    from sqlalchemy import create_engine

    step, t0 = days * DAY / rows, now - days * DAY
    engine = create_engine(store.url)  # setup: no statement timeout
    started = time.perf_counter()
    for lo in range(0, rows, 1_000_000):
        with engine.begin() as conn:
            conn.execute(
                text(FILL[store.engine.dialect.name]),
                {"lo": lo, "hi": min(lo + 1_000_000, rows), "t0": t0, "step": step},
            )
    if store.engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE observations"))
    engine.dispose()
    return rows / (time.perf_counter() - started)


def ingest(store: Store, now: float, count: int = 200_000) -> float:
    """Observations per second through the routers' path into the full table: an ObservationRecorder
    (default batches) fed the rows a router hands it, its writer thread building the Observations and
    writing them with ObservationStore.write_batch; timed until the last one is written."""
    rows = [
        ("var_engine", "shadow", Route.LEGACY, f"book-{i % 997}", now - 200 + i * 1e-4, 800.0 + i % 13,
         790.0 + i % 7, ErrorKind.NONE, 1e-9, 1e-12, None, None, 0, 1)
        for i in range(count)
    ]  # fmt: skip
    recorder = ObservationRecorder(ObservationStore(store), queue_size=count)
    try:
        started = time.perf_counter()
        for row in rows:
            recorder._record_row(row)  # what Router calls per observation
        if not recorder.flush(timeout_s=600):
            raise RuntimeError(f"ingest: the recorder did not drain: {recorder.stats()}")
        seconds = time.perf_counter() - started
        stats = recorder.stats()
    finally:
        recorder.close()
    if stats["written"] != count:
        raise RuntimeError(f"ingest: {stats['written']} of {count} written: {stats}")
    return count / seconds


def median_ms(call, runs: int = 7) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def measure(url: str, rows: int, days: float) -> dict[str, float | int | str]:
    store = Store.from_url(url, timeout_s=300.0)  # a busy shared machine: measure, do not give up
    now = time.time()
    figures: dict[str, float | int | str] = {"backend": store.engine.dialect.name, "rows": rows}
    figures["fill_rows_per_s"] = round(fill(store, rows, days, now))
    figures["ingest_per_s"] = round(ingest(store, now))
    rollups = RollupStore(store)
    first = 60.0 * minute_of(rollups.oldest_raw() or now)
    rollups.replace([], start=first, end=first)  # nothing rolled up yet
    started = time.perf_counter()
    day = roll_up(store, now=first + DAY + SETTLE_S)  # the oldest day, as `observations prune` would
    figures["rollup_day_s"] = round(time.perf_counter() - started, 3)
    figures["rollup_day_rows"] = day.raw_rows
    started = time.perf_counter()
    figures["prune_day_rows"] = rollups.delete_raw_before(first + DAY)  # the real prune: hourly deletes
    figures["prune_day_s"] = round(time.perf_counter() - started, 3)
    mark = 60 * ((now - 3600) // 60)
    rollups.replace([], start=mark, end=mark)  # stands for the every-minute rollups of the days between
    started = time.perf_counter()
    hour = roll_up(store, now=now)
    seconds = time.perf_counter() - started
    figures["rollup_hour_rows"], figures["rollup_rows_per_s"] = hour.raw_rows, round(hour.raw_rows / seconds)
    window = {"since": now - 300, "until": now, "mode": "shadow", "epoch": 1}
    summary = window_summary(store, "hedge_calculator", **window)  # type: ignore[arg-type]
    figures["window_observations"] = summary.observations
    figures["window_query_ms"] = round(
        median_ms(lambda: window_summary(store, "hedge_calculator", **window)), 2  # type: ignore[arg-type]
    )
    figures["window_raw_read_ms"] = round(
        median_ms(lambda: ObservationStore(store).window("hedge_calculator", since=now - 300, until=now)), 2
    )
    figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    store.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=8.0)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="admin URL of the PostgreSQL server")
    args = parser.parse_args()
    results = []
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            results.append(measure(f"sqlite:///{Path(folder) / 'runbook.db'}", args.rows, args.days))
            print(results[-1], flush=True)
    if args.backend in ("postgres", "both"):
        with temporary_postgres(args.postgres) as url:
            results.append(measure(url, args.rows, args.days))
            print(results[-1], flush=True)
    for r in results:
        verdict = (
            "meets" if r["window_query_ms"] <= 100 and r["prune_day_s"] <= 5 and r["ingest_per_s"] >= 20_000
            else "MISSES"
        )  # fmt: skip
        print(
            f"{r['backend']}: {r['rows']:,} rows; monitor window query {r['window_query_ms']} ms "
            f"(raw read {r['window_raw_read_ms']} ms); prune of a day {r['prune_day_s']} s "
            f"({r['prune_day_rows']:,} rows, after rolling that day up in {r['rollup_day_s']} s); "
            f"ingest {r['ingest_per_s']:,}/s; rollup {r['rollup_rows_per_s']:,} rows/s "
            f"(load average {r['load_average_1m']}) -> {verdict} the goals"
        )
    print(json.dumps({"bench": "observation_scale", "results": results}))


if __name__ == "__main__":
    main()
