"""The single-request path, checked beside a batch validation.

The batch methods (``var_batch``, ``simulate_losses`` ...) are an acceleration; routers call the
single-request method (``calculate_var_sync`` ...). So every batch validation also sends
``SINGLE_PATH_REQUESTS`` replayed production requests through both engines' single-request methods
and fails on any disagreement, naming the request.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from runbook.validation.report import Check
from runbook.validation.requests_run import flatten, within

SINGLE_PATH_REQUESTS = 1_000
RTOL = 1e-5


def single_path_check(
    pair: Any, *, count: int = SINGLE_PATH_REQUESTS, seed: int = 0, atol: Any = None
) -> Check:
    """Both engines' single-request methods agree on ``count`` replayed requests (``atol(field)``)."""
    from runbook.scenarios.replay import replay_requests

    outside, first = 0, ""
    compared = 0
    for index, (key, request) in enumerate(replay_requests(pair.component, count=count, seed=seed)):
        request_id = f"request {index} (routing key {key}, {_describe(request)})"
        try:
            old = flatten(pair.call_legacy(request))
            new = flatten(pair.call_candidate(request))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - an engine raising on a single request is a FAIL naming it
            detail = f"an engine raised {type(exc).__name__}: {exc} on single {request_id}"
            return Check("single_request_path", False, detail, {"requests": index + 1})
        compared += 1
        for name in sorted(set(old) | set(new)):
            ok = name in old and name in new and within(
                old[name], new[name], rel=RTOL, abs_=atol(name.split("[")[0]) if atol else 0.0
            )[0]
            if not ok:
                outside += 1
                first = first or f"{request_id}: {name} legacy {old.get(name)!r}, candidate {new.get(name)!r}"
    if outside:
        detail = f"{outside} field value(s) disagree on {compared} single requests; first: {first}"
        return Check("single_request_path", False, detail, {"requests": compared, "outside": outside})
    detail = f"{compared} replayed requests through the single-request methods agree within 1e-5 relative"
    return Check("single_request_path", True, detail, {"requests": compared, "outside": 0})


def _describe(request: Any) -> str:
    """A replayed request (always one of the component's request dataclasses) by its scalar fields."""
    parts = []
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if isinstance(value, int | float | str):
            parts.append(f"{field.name}={value}")
    return f"{type(request).__name__}({', '.join(parts)})"
