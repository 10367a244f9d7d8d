"""Validation of a catalog component through the single-request callables production routes.

Every request goes to legacy and candidate exactly as a service passes it to ``Router.call``;
the verdict needs, on every request: neither engine raising alone, every output field within
the catalog's tolerance, the candidate passing the catalog's result check; per-request latency
within the limit; and, for VaR on market data, a backtest zone no worse than legacy's. Checks an
engine cannot feed are reported as skipped with the reason, never required.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runbook.domain.catalog import ComponentEntry
from runbook.engines.callables import EngineCallable
from runbook.scenarios.requests_file import Request
from runbook.validation.report import Check, ValidationReport, WorstScenario
from runbook.validation.requests_run import Outcome, Run, run_requests, within

MAX_LATENCY_RATIO = 1.20  # ADR: more than 20% slower fails
MIN_LATENCY_EXCESS_US = 50.0  # below this excess per call a ratio is noise (thresholds.py)
SHOWN = 20


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One output field of one request outside tolerance (or present in only one result)."""

    request: Request
    name: str
    legacy: Any
    candidate: Any
    abs_difference: float
    rel_difference: float


def skipped(name: str, reason: str) -> Check:
    """A check that could not run, with the reason (never gating)."""
    return Check(name, True, f"skipped: {reason}", {"skipped": True, "reason": reason}, gating=False)


def validate_requests(
    entry: ComponentEntry,
    legacy: EngineCallable,
    candidate: EngineCallable,
    requests: Sequence[Request],
    *,
    source: str,
    data: dict[str, Any] | None = None,
    extra_checks: Sequence[Callable[[], Check]] = (),
    timer: Callable[[], float] = time.perf_counter,
    batches: Mapping[str, EngineCallable] | None = None,
) -> ValidationReport:
    """The report of ``requests`` through both engines (``source`` says where they came from).

    With ``batches`` (batch callables by role) every request goes through them, and the
    single-request callables are checked beside (``single_request_path``, which also times them).
    """
    from runbook.validation.catalog_batch import run_with_batches, single_path_check

    started = time.perf_counter()
    path = "single-request callables"
    if batches:
        run = run_with_batches(legacy, candidate, batches, requests, timer=timer)
        single, timed = single_path_check(entry, legacy, candidate, requests, timer=timer)
        declared = ", ".join(f"{role} {engine.path}" for role, engine in batches.items())
        path = f"batch callables ({declared}), single-request callables beside"
    else:
        run = timed = run_requests(legacy, candidate, requests, timer=timer)
    outside = disagreements(entry, run.outcomes)
    checks = [_errors_check(run), *_field_checks(run.outcomes, outside)]
    if entry.check is not None:
        checks.append(_result_check(entry, run.outcomes))
    checks.append(_latency_check(entry, timed.outcomes))
    if batches:
        checks.append(single)
    checks.extend(make() for make in extra_checks)
    summary = {"requests": len(requests), "source": source, "path": path,
               "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
    return ValidationReport(
        component=entry.name,
        passed=all(c.passed for c in checks if c.gating),
        checks=tuple(checks),
        worst_scenarios=tuple(_worst(outside)),
        conventions={"comparison": "per field: |new - old| <= rel * |old| + abs (catalog tolerances)"},
        summary=summary,
        data=data,
        engines={"legacy": legacy.describe(), "candidate": candidate.describe()},
    )


def _errors_check(run: Run) -> Check:
    by_request: dict[str, set[str]] = {}
    for error in run.errors:
        by_request.setdefault(error.request_id, set()).add(error.engine)
    alone = [e for e in run.errors if len(by_request[e.request_id]) == 1]
    both = sum(len(engines) == 2 for engines in by_request.values())
    numbers = {"raised_alone": len(alone), "raised_by_both": both,
               "errors": [e.describe() for e in alone[:SHOWN]]}  # fmt: skip
    if not alone:
        detail = f"no engine raised alone on {len(run.outcomes)} requests ({both} raised in both)"
        return Check("engine_errors", True, detail, numbers)
    detail = f"{alone[0].describe()} ({len(alone)} request(s) raised in one engine only)"
    return Check("engine_errors", False, detail, numbers)


def disagreements(entry: ComponentEntry, outcomes: Sequence[Outcome]) -> list[Disagreement]:
    """Every output field outside the entry's tolerance, or present in one result only."""
    out = []
    for outcome in outcomes:
        old, new = outcome.legacy, outcome.candidate
        if old is None or new is None:
            continue
        for name in sorted(set(old) | set(new)):
            if name not in old or name not in new:
                nan = math.nan
                missing = Disagreement(outcome.request, name, old.get(name), new.get(name), nan, nan)
                out.append(missing)
                continue
            tolerance = entry.tolerance(name)
            ok, diff, rel = within(old[name], new[name], rel=tolerance.rel, abs_=tolerance.abs)
            if not ok:
                out.append(Disagreement(outcome.request, name, old[name], new[name], diff, rel))
    return out


def _field_checks(outcomes: Sequence[Outcome], disagreements: Sequence[Disagreement]) -> list[Check]:
    names = sorted({n for o in outcomes for r in (o.legacy, o.candidate) if r for n in r})
    compared = sum(o.legacy is not None and o.candidate is not None for o in outcomes)
    checks = []
    for name in names:
        bad = [d for d in disagreements if d.name == name]
        if not bad:
            detail = f"{compared} of {compared} requests within tolerance"
            checks.append(Check(f"tolerance:{name}", True, detail, {"requests": compared, "outside": 0}))
            continue
        worst = max(bad, key=lambda d: d.rel_difference if not math.isnan(d.rel_difference) else math.inf)
        detail = (f"{len(bad)} of {compared} requests outside tolerance; worst {worst.request.request_id}: "
                  f"legacy {worst.legacy!r}, candidate {worst.candidate!r}")  # fmt: skip
        checks.append(Check(f"tolerance:{name}", False, detail, {
            "requests": compared, "outside": len(bad),
            "requests_outside": [d.request.request_id for d in bad[:SHOWN]],
        }))  # fmt: skip
    if compared and not names:
        checks.append(Check("tolerance", False, "the engines returned no output fields to compare"))
    return checks


def _result_check(entry: ComponentEntry, outcomes: Sequence[Outcome]) -> Check:
    assert entry.check is not None
    failing = [(o.request.request_id, entry.check.failure(o.candidate)) for o in outcomes
               if o.candidate is not None and (o.legacy is None or entry.check.failure(o.legacy) is None)
               and entry.check.failure(o.candidate)]  # fmt: skip
    name = "result_check"
    if not failing:
        return Check(name, True, f"every candidate result passes {entry.check.text!r}")
    first_id, reason = failing[0]
    return Check(name, False, f"candidate result on request {first_id}: {reason} ({len(failing)} request(s))",
                 {"failing": [r for r, _ in failing[:SHOWN]]})  # fmt: skip


def _latency_check(entry: ComponentEntry, outcomes: Sequence[Outcome]) -> Check:
    answered = [o for o in outcomes if o.legacy is not None and o.candidate is not None]
    pairs = [(o.legacy_s, o.candidate_s) for o in answered]
    if len(pairs) < 20:
        return skipped("latency_per_request", f"{len(pairs)} requests answered by both engines; 20 needed")
    legacy = statistics.median(p[0] for p in pairs)
    candidate = statistics.median(p[1] for p in pairs)
    limit = entry.thresholds.get("max_latency_ratio", MAX_LATENCY_RATIO)
    floor_us = entry.thresholds.get("min_latency_excess_us", MIN_LATENCY_EXCESS_US)
    ratio = candidate / legacy if legacy > 0 else math.inf
    excess_us = (candidate - legacy) * 1e6
    passed = ratio <= limit or excess_us <= floor_us
    detail = (f"candidate/legacy median latency per request {ratio:.2f}x ({legacy * 1e6:.0f} -> "
              f"{candidate * 1e6:.0f} us over {len(pairs)} requests, interleaved); limit {limit:.2f}x "
              f"unless within {floor_us:g} us")  # fmt: skip
    return Check("latency_per_request", passed, detail, {
        "ratio": ratio, "legacy_p50_us": legacy * 1e6, "candidate_p50_us": candidate * 1e6, "limit": limit,
        "legacy_p99_us": float(np.quantile([p[0] for p in pairs], 0.99)) * 1e6,
        "candidate_p99_us": float(np.quantile([p[1] for p in pairs], 0.99)) * 1e6,
    })  # fmt: skip


def _worst(disagreements: Sequence[Disagreement]) -> list[WorstScenario]:
    def rank(d: Disagreement) -> float:
        return math.inf if math.isnan(d.rel_difference) else d.rel_difference

    return [
        WorstScenario(d.request.request_id, "request", d.request.routing_key, d.name, _num(d.legacy),
                      _num(d.candidate), d.abs_difference, d.rel_difference)
        for d in sorted(disagreements, key=rank, reverse=True)[:SHOWN]
    ]


def _num(value: Any) -> float:
    return value if isinstance(value, float) else math.nan
