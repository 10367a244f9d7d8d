"""The single-request validation path on hand-made engines: fields present in one result only, empty
results, a failing result check, too few requests to time, anything an engine raises, and how
results are flattened and compared."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from runbook.domain.catalog import ComponentEntry, Tolerance
from runbook.domain.result_check import ResultCheck
from runbook.engines.callables import EngineCallable, wrap_callable
from runbook.engines.legacy import DriftRiskEngine
from runbook.engines.registry import pair_of
from runbook.engines.var import VaRCalculationEngine
from runbook.scenarios.replay import replay_requests
from runbook.scenarios.requests_file import Request
from runbook.validation.requests_path import validate_requests
from runbook.validation.requests_run import flatten, run_requests, within
from runbook.validation.single_path import single_path_check


def engine(name: str, function: Any) -> EngineCallable:
    return wrap_callable(f"desk:{name}", function, None)


def requests(count: int) -> list[Request]:
    return [Request(f"r{i}", {"x": float(i)}, routing_key=f"book-{i % 3}") for i in range(count)]


class Ticks:
    """A clock advancing ``step`` seconds per reading (no wall time in tests)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


ENTRY = ComponentEntry("desk_pnl", fields={"pnl": Tolerance(rel=1e-9, abs=1e-6)})


def checks_of(report: Any) -> dict[str, Any]:
    return {c.name: c for c in report.checks}


def test_a_field_only_one_engine_returns_fails_and_ranks_first():
    """A field the candidate drops fails its tolerance check on every request and tops the worst list."""
    legacy = engine("old", lambda x: {"pnl": x, "fee": 1.0})
    candidate = engine("new", lambda x: {"pnl": x + (0.5 if x == 3 else 0.0)})
    report = validate_requests(ENTRY, legacy, candidate, requests(5), source="test", timer=Ticks(1e-6))

    checks = checks_of(report)
    assert not report.passed
    assert not checks["tolerance:fee"].passed
    assert checks["tolerance:fee"].numbers["outside"] == 5
    assert "legacy 1.0, candidate None" in checks["tolerance:fee"].detail
    assert checks["tolerance:pnl"].numbers["requests_outside"] == ["r3"]
    worst = report.worst_scenarios
    assert [w.metric for w in worst] == ["fee"] * 5 + ["pnl"]
    assert math.isnan(worst[0].rel_difference)
    assert math.isnan(worst[0].candidate)
    assert worst[-1].abs_difference == pytest.approx(0.5)


def test_engines_returning_no_fields_fail():
    """Two engines that both answer with nothing have nothing to agree on: FAIL, never a pass."""
    nothing = engine("empty", lambda x: {})
    report = validate_requests(ENTRY, nothing, nothing, requests(3), source="test", timer=Ticks(1e-6))
    assert not report.passed
    assert checks_of(report)["tolerance"].detail == "the engines returned no output fields to compare"


def test_a_candidate_failing_the_result_check_fails_naming_the_request():
    """Legacy passes ``pnl >= 0`` everywhere; the candidate breaks it on r2 and r4 (and within tolerance
    nowhere else): the result check fails naming r2 first and counting both."""
    entry = ComponentEntry(
        "desk_pnl", fields={"pnl": Tolerance(rel=10.0)}, check=ResultCheck.parse("pnl >= 0")
    )
    legacy = engine("old", lambda x: {"pnl": x + 1.0})
    candidate = engine("new", lambda x: {"pnl": -1.0 if x in (2.0, 4.0) else x + 1.0})
    report = validate_requests(entry, legacy, candidate, requests(6), source="test", timer=Ticks(1e-6))

    check = checks_of(report)["result_check"]
    assert not check.passed
    assert check.detail.startswith("candidate result on request r2: result fails check 'pnl >= 0'")
    assert "(2 request(s))" in check.detail
    assert check.numbers["failing"] == ["r2", "r4"]
    assert checks_of(report)["tolerance:pnl"].passed
    assert not report.passed


def test_latency_is_skipped_below_twenty_answered_requests():
    """19 requests answered by both engines are too few to time: skipped with the count, never gating,
    even when the candidate's clock says it is 100 times slower."""
    same = engine("same", lambda x: {"pnl": x})
    report = validate_requests(ENTRY, same, same, requests(19), source="test", timer=Ticks(1.0))
    check = checks_of(report)["latency_per_request"]
    assert check.passed
    assert not check.gating
    assert check.detail == "skipped: 19 requests answered by both engines; 20 needed"
    assert report.passed


def test_an_interrupt_stops_the_run_instead_of_being_recorded():
    """Ctrl-C in an engine ends the validation; it is not an engine error with a verdict."""

    def interrupted(x: float) -> dict[str, float]:
        raise KeyboardInterrupt

    same = engine("same", lambda x: {"pnl": x})
    with pytest.raises(KeyboardInterrupt):
        run_requests(same, engine("stop", interrupted), requests(2), timer=Ticks(1e-6))


def test_flatten_turns_flags_into_numbers_and_other_objects_into_their_repr():
    assert flatten({"ok": True, "n": np.int64(3), "flags": [np.bool_(False)]}) == {
        "ok": 1.0, "n": 3.0, "flags[0]": 0.0,
    }  # fmt: skip
    assert flatten({"when": dt.date(2020, 1, 2), "label": "x", "none": None}) == {
        "when": "datetime.date(2020, 1, 2)", "label": "x", "none": None,
    }  # fmt: skip
    assert flatten(2.5) == {"value": 2.5}


@pytest.mark.parametrize(
    ("old", "new", "agrees"),
    [
        (math.nan, math.nan, True),
        (1.0, math.nan, False),
        (math.nan, 1.0, False),
        ("EUR", "EUR", True),
        ("EUR", "USD", False),
        (None, 0.0, False),
        (0.0, 0.0, True),
        (0.0, 1e-12, False),
        (100.0, 100.0 + 0.9e-4, True),
        (100.0, 100.0 + 1.1e-4, False),
    ],
)
def test_within_compares_numbers_with_tolerance_and_the_rest_by_equality(old, new, agrees):
    """rel 1e-6 of |old| (1e-4 at 100), no absolute slack; NaN agrees only with NaN."""
    assert within(old, new, rel=1e-6, abs_=0.0)[0] is agrees


def test_within_reports_absolute_and_relative_differences():
    ok, diff, rel = within(200.0, 201.0, rel=0.0, abs_=1.0)
    assert (ok, diff, rel) == (True, 1.0, 0.005)
    assert all(math.isnan(v) for v in within("a", "b", rel=0.0, abs_=0.0)[1:])
    assert within(0.0, 1.0, rel=0.0, abs_=0.0)[2] == math.inf


class RaisesOnLongHorizons(VaRCalculationEngine):
    """A candidate whose single-request method refuses horizons above one day."""

    def calculate_var_sync(self, request: Any) -> Any:
        if request.horizon_days > 1:
            raise ValueError(f"horizon {request.horizon_days} not supported")
        return super().calculate_var_sync(request)


class InterruptedCandidate(VaRCalculationEngine):
    def calculate_var_sync(self, request: Any) -> Any:
        raise KeyboardInterrupt


def test_a_candidate_raising_on_one_single_request_fails_naming_it():
    """The first replayed request with a horizon above one day stops the check: FAIL naming the
    exception, the request's index and its fields."""
    replayed = list(replay_requests("var_engine", count=40, seed=5))
    first = next(i for i, (_, r) in enumerate(replayed) if r.horizon_days > 1)  # type: ignore[attr-defined]
    key, request = replayed[first]

    check = single_path_check(
        pair_of("var_engine", DriftRiskEngine(), RaisesOnLongHorizons()), count=40, seed=5
    )
    assert not check.passed
    assert check.numbers == {"requests": first + 1}
    horizon = request.horizon_days  # type: ignore[attr-defined]
    assert check.detail.startswith(
        f"an engine raised ValueError: horizon {horizon} not supported on single request {first} "
        f"(routing key {key}, VaRRequest("
    )
    assert f"horizon_days={horizon}" in check.detail


def test_an_interrupt_in_a_single_request_is_not_a_verdict():
    with pytest.raises(KeyboardInterrupt):
        single_path_check(pair_of("var_engine", DriftRiskEngine(), InterruptedCandidate()), count=3)


def test_the_html_page_names_the_engines_of_a_broken_batch_validation():
    """A batch validation an engine stopped has its engines as bare import paths: the page lists them."""
    from runbook._cli.validate_catalog import failed_report
    from runbook.engines.registry import load_pair
    from runbook.validation.html import render_html

    page = render_html(failed_report("var_engine", load_pair("var_engine"), SystemExit(3)))
    assert "<td>legacy</td><td>runbook.engines.legacy:DriftRiskEngine</td>" in page
    assert "<td>candidate</td><td>runbook.engines.var:VaRCalculationEngine</td>" in page
    assert "sys.exit(3)" in page
