"""Offline validation throughput: the DESIGN.md section 9 goals, as printed figures.

1. Standard run: 10,000 historical + 100,000 Monte Carlo scenarios, legacy + candidate + every
   statistic, backtest and performance check (goal <= 10 s on 2 cores), for var_engine and
   hedge_calculator, in this process.
2. 1,000,000 Monte Carlo scenarios alone (goal <= 10 s and <= 1 GiB peak RSS, chunked), each run in
   a fresh subprocess so its peak RSS is its own.

Medians of 3 runs. The last line is JSON.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

RUNS = 3
CHILD = """
import json, resource, sys, time
from runbook.validation import FinancialCalculationValidator
component = sys.argv[1]
started = time.perf_counter()
report = FinancialCalculationValidator(check_performance=False).validate_component(
    component, historical=0, monte_carlo=1_000_000)
print(json.dumps({"seconds": time.perf_counter() - started, "passed": report.passed,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def standard(component: str) -> tuple[float, bool]:
    """Seconds for one 10,000 + 100,000 validation (scenario building included) and its verdict."""
    from runbook.validation import validate_component

    started = time.perf_counter()
    report = validate_component(component, historical=10_000, monte_carlo=100_000)
    return time.perf_counter() - started, report.passed


def monte_carlo_1m(component: str) -> dict[str, float]:
    """One isolated 1,000,000-scenario Monte Carlo validation."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, component], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    figures: dict[str, float | bool] = {}
    for component, key in (
        ("var_engine", "standard_seconds"),
        ("hedge_calculator", "standard_seconds_hedge"),
    ):
        standard(component)  # warm imports and caches
        runs = [standard(component) for _ in range(RUNS)]
        figures[key] = round(statistics.median(r[0] for r in runs), 3)
        figures[f"{key}_passed"] = all(r[1] for r in runs)
        print(
            f"{component}: 10,000 historical + 100,000 MC, old + new + statistics: "
            f"{figures[key]:.2f} s (median of {RUNS}; runs {[round(r[0], 2) for r in runs]})"
        )
    for component, prefix in (("var_engine", "mc_1m"), ("hedge_calculator", "mc_1m_hedge")):
        runs = [monte_carlo_1m(component) for _ in range(RUNS)]
        figures[f"{prefix}_seconds"] = round(statistics.median(r["seconds"] for r in runs), 3)
        figures[f"{prefix}_peak_rss_mib"] = round(statistics.median(r["peak_rss_mib"] for r in runs), 1)
        figures[f"{prefix}_passed"] = all(r["passed"] for r in runs)
        print(
            f"{component}: 1,000,000 MC scenarios: {figures[f'{prefix}_seconds']:.2f} s, "
            f"peak RSS {figures[f'{prefix}_peak_rss_mib']:.0f} MiB (median of {RUNS}, fresh process each)"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
