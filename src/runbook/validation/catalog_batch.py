"""A catalog component's batch callables: the acceleration, with the production path checked beside it.

A batch callable takes one list of requests (each the keyword arguments of one request) and
returns their results in the same order. When a component declares one, every request goes
through it, and ``SINGLE_PATH_REQUESTS`` of them (all when fewer, spread over the whole list)
also go through both single-request callables, the ones routers call: any disagreement there, or
an engine raising alone, fails ``single_request_path`` naming the request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from runbook.domain.catalog import ComponentEntry
from runbook.engines.callables import EngineCallable
from runbook.scenarios.requests_file import Request
from runbook.validation.report import Check
from runbook.validation.requests_path import disagreements
from runbook.validation.requests_run import EngineError, Fields, Outcome, Run, _one, flatten, run_requests

SINGLE_PATH_REQUESTS = 1_000
NAME = "single_request_path"

Results = list[tuple[Fields | None, float, str | None]]


def run_with_batches(
    legacy: EngineCallable, candidate: EngineCallable, batches: Mapping[str, EngineCallable],
    requests: Sequence[Request], *, timer: Callable[[], float] = time.perf_counter,
) -> Run:
    """Every request through each role's batch callable (its single-request one when it has none)."""
    loop = asyncio.new_event_loop()
    results: dict[str, Results] = {}
    try:
        for role, single in (("legacy", legacy), ("candidate", candidate)):
            batch = batches.get(role)
            results[role] = (_batch(batch, requests, loop, timer) if batch is not None
                             else [_one(single, request, loop, timer) for request in requests])  # fmt: skip
    finally:
        loop.close()
    errors = [EngineError(role, (batches.get(role) or engine).path, request.request_id, error)
              for role, engine in (("legacy", legacy), ("candidate", candidate))
              for request, (_, _, error) in zip(requests, results[role], strict=True) if error is not None]
    outcomes = [Outcome(request, old[0], new[0], old[1], new[1])
                for request, old, new in zip(requests, results["legacy"], results["candidate"], strict=True)]
    return Run(tuple(outcomes), tuple(errors))


def _batch(
    batch: EngineCallable, requests: Sequence[Request], loop: asyncio.AbstractEventLoop,
    timer: Callable[[], float],
) -> Results:
    start = timer()
    try:
        values = list(batch.call({}, loop, ([dict(r.kwargs) for r in requests],)))
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        return _all_failed(requests, f"SystemExit (sys.exit({exc.code!r})) in the batch call")
    except BaseException as exc:  # noqa: BLE001 - a batch raising is recorded against every request of it
        return _all_failed(requests, f"{type(exc).__name__}: {exc} (in the batch call)")
    if len(values) != len(requests):
        return _all_failed(requests, f"the batch returned {len(values)} results for {len(requests)} requests")
    each = (timer() - start) / max(len(requests), 1)
    return [(flatten(value), each, None) for value in values]


def _all_failed(requests: Sequence[Request], error: str) -> Results:
    return [(None, 0.0, error) for _ in requests]


def single_path_check(
    entry: ComponentEntry, legacy: EngineCallable, candidate: EngineCallable, requests: Sequence[Request],
    *, timer: Callable[[], float] = time.perf_counter,
) -> tuple[Check, Run]:
    """Both single-request callables on ``SINGLE_PATH_REQUESTS`` of ``requests`` (all if fewer)."""
    picked = list(requests[:: max(1, len(requests) // SINGLE_PATH_REQUESTS)])
    run = run_requests(legacy, candidate, picked, timer=timer)
    raised = {e.request_id: e for e in run.errors}
    alone = [raised[o.request.request_id] for o in run.outcomes
             if (o.legacy is None) != (o.candidate is None)]  # fmt: skip
    outside = disagreements(entry, run.outcomes)
    numbers = {"requests": len(picked), "of": len(requests), "raised_alone": len(alone),
               "outside": len(outside),
               "requests_outside": sorted({d.request.request_id for d in outside})[:20]}  # fmt: skip
    if alone:
        detail = f"{alone[0].describe()} through the single-request callables"
        return Check(NAME, False, detail, numbers), run
    if outside:
        first = outside[0]
        count = len({d.request.request_id for d in outside})
        detail = (f"{count} of {len(picked)} requests disagree through the single-request callables, what "
                  f"routers call; first request "
                  f"{first.request.request_id}: {first.name} legacy {first.legacy!r}, candidate "
                  f"{first.candidate!r}")  # fmt: skip
        return Check(NAME, False, detail, numbers), run
    detail = (f"{len(picked)} of {len(requests)} requests through both single-request callables agree "
              f"within tolerance (every request went through the batch path)")
    return Check(NAME, True, detail, numbers), run
