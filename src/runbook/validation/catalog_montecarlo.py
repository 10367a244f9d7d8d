"""Monte Carlo VaR / ES through the single-request callables, calibrated on the market data given.

Both engines get the same simulated windows (common random numbers: the requests are drawn once);
the check fails when an engine raises alone on one, or when any output field of any simulated
request lies outside the catalog's tolerance, naming the first such request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from runbook.domain.catalog import ComponentEntry
from runbook.engines.callables import EngineCallable
from runbook.scenarios.requests_file import Request
from runbook.validation.report import Check
from runbook.validation.requests_path import disagreements
from runbook.validation.requests_run import run_requests

NAME = "monte_carlo_var_es"


def monte_carlo_check(
    entry: ComponentEntry, legacy: EngineCallable, candidate: EngineCallable, requests: Sequence[Request],
    *, calibrated_on: str, timer: Callable[[], float] = time.perf_counter,
) -> Check:
    """Both engines on ``requests`` (simulated windows calibrated on ``calibrated_on``)."""
    run = run_requests(legacy, candidate, requests, timer=timer)
    raised = {e.request_id: e for e in run.errors}
    alone = [raised[o.request.request_id] for o in run.outcomes
             if (o.legacy is None) != (o.candidate is None)]  # fmt: skip
    outside = disagreements(entry, run.outcomes)
    numbers = {"requests": len(requests), "raised_alone": len(alone), "outside": len(outside),
               "calibrated_on": calibrated_on,
               "requests_outside": sorted({d.request.request_id for d in outside})[:20]}  # fmt: skip
    where = f"{len(requests)} simulated windows calibrated on {calibrated_on}"
    if alone:
        detail = f"{alone[0].describe()} ({len(alone)} of {where} raised in one engine only)"
        return Check(NAME, False, detail, numbers)
    if outside:
        first = outside[0]
        detail = (f"{len({d.request.request_id for d in outside})} of {where} outside tolerance; first "
                  f"{first.request.request_id}: {first.name} legacy {first.legacy!r}, candidate "
                  f"{first.candidate!r}")  # fmt: skip
        return Check(NAME, False, detail, numbers)
    return Check(NAME, True, f"{where}: every field of both engines within tolerance", numbers)
