"""Each bundled suite, run by real Great Expectations: passes on sound data, and fails on each defect
it is meant to catch, naming the expectation and the offending rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.quality import QualityResult, Suite, load_suite, run_suite
from runbook.quality.frames import observations_frame

MARKET_CSV = Path(__file__).resolve().parents[2] / "src/runbook/scenarios/data/market_history.csv"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, Unix seconds

Mutation = Callable[[pd.DataFrame], pd.DataFrame]


@pytest.fixture(scope="module")
def suites() -> dict[str, Suite]:
    """Every bundled suite, loaded once (GX imported once per session anyway)."""
    return {name: load_suite(name) for name in
            ("market_history", "scenarios", "engine_outputs", "shadow_comparisons", "canary_window")}


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    return pd.read_csv(MARKET_CSV, parse_dates=["date"])


def scenarios_frame() -> pd.DataFrame:
    historical = pd.DataFrame({
        "scenario_id": [f"hist-{i}" for i in range(4)],
        "kind": "historical",
        "as_of": pd.to_datetime(["2008-10-10", "2008-10-13", "2015-08-24", "2018-02-05"]),
        "portfolio_id": ["book-a", "book-a", "book-b", "book-b"],
        "n_assets": [3, 3, 2, 2],
        "window_days": 250,
        "weight_sum": [1.0, 1.0, 0.9999999, 1.0000001],
        "notional": [1e6, 1e6, 2.5e7, 2.5e7],
    })
    monte_carlo = pd.DataFrame({
        "scenario_id": ["mc-0", "mc-1"], "kind": "monte_carlo", "as_of": pd.NaT, "portfolio_id": "book-a",
        "n_assets": 3, "window_days": 250, "weight_sum": 1.0, "notional": 1e6,
    })
    return pd.concat([historical, monte_carlo], ignore_index=True)


def outputs_frame() -> pd.DataFrame:
    """Outputs of three components for two scenarios, both engines; Hull's hedge: h*=0.96, N*=19.2."""
    rows = []
    for scenario in ("hist-0", "hist-1"):
        for engine in ("legacy", "candidate"):
            rows.append({"scenario_id": scenario, "component": "var_engine", "engine": engine,
                         "var": 23_263.48, "es": 26_652.14, "value": 23_263.48})
            rows.append({"scenario_id": scenario, "component": "hedge_calculator", "engine": engine,
                         "hedge_ratio": 0.96, "exposure": 10_000.0, "contract_size": 500.0,
                         "contracts": 19.2, "value": 19.2})
            rows.append({"scenario_id": scenario, "component": "market_data_provider", "engine": engine,
                         "value": 1228.1})
    columns = ["scenario_id", "component", "engine", "var", "es", "hedge_ratio", "contracts", "contract_size",
               "exposure", "value"]
    return pd.DataFrame(rows, columns=columns)


def shadow_frame() -> pd.DataFrame:
    observations = [
        Observation(component="var_engine", mode="shadow", route=Route.LEGACY, routing_key=f"book-{i % 7}",
                    at=T0 + i, legacy_latency_us=120.0 + i, candidate_latency_us=95.0 + i,
                    abs_difference=0.0 if i % 2 else 1e-9, rel_difference=0.0 if i % 2 else 4e-14)
        for i in range(40)
    ]
    observations.append(Observation(component="var_engine", mode="shadow", route=Route.LEGACY,
                                    routing_key="book-timeout", at=T0 + 41, legacy_latency_us=130.0,
                                    candidate_latency_us=None, error_kind=ErrorKind.TIMEOUT))
    return observations_frame(observations)


def canary_frame(n: int = 120) -> pd.DataFrame:
    observations = [
        Observation(component="performance_analyzer", mode="canary",
                    route=Route.CANDIDATE if i % 4 == 0 else Route.LEGACY, routing_key=f"book-{i}", at=T0 + i,
                    legacy_latency_us=None if i % 4 == 0 else 200.0,
                    candidate_latency_us=180.0 if i % 4 == 0 else None)
        for i in range(n)
    ]
    return observations_frame(observations)


GOOD: dict[str, Callable[[], pd.DataFrame]] = {
    "scenarios": scenarios_frame, "engine_outputs": outputs_frame,
    "shadow_comparisons": shadow_frame, "canary_window": canary_frame,
}


def _set(column: str, value: object, *, where: Callable[[pd.DataFrame], pd.Series] | int) -> Mutation:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        mask = where(frame) if callable(where) else frame.index == where
        frame.loc[mask, column] = value
        return frame
    return mutate


def _failure(result: QualityResult, expectation_type: str, column: str | None):
    found = [f for f in result.failures if f.expectation_type == expectation_type and f.column == column]
    names = [(f.expectation_type, f.column) for f in result.failures]
    assert found, f"{expectation_type} on {column} not among failures {names}"
    return found[0]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_suite_passes_on_sound_frame(suites: dict[str, Suite], name: str) -> None:
    """Each suite passes a frame that honours the column contract, with no finding at all."""
    result = run_suite(suites[name], GOOD[name]())
    assert result.passed, result.markdown()
    assert (result.failures, result.warnings, result.errors) == ((), (), ())
    assert result.evaluated == len(suites[name].expectations)


def test_market_history_passes_on_bundled_data(suites: dict[str, Suite], market: pd.DataFrame) -> None:
    """The bundled 1999-2018 history passes every market check, its 19 WTI gaps included."""
    assert int(market["wti_close"].isna().sum()) == 19
    result = run_suite(suites["market_history"], market)
    assert result.passed, result.markdown()
    assert result.warnings == ()
    assert result.row_count == 5031


MARKET_DEFECTS = [
    # (id, mutation, expectation type, column, offending dates)
    ("nan-price", _set("spx_close", np.nan, where=2450), "expect_column_values_to_not_be_null", "spx_close",
     ["2008-09-30"]),
    ("negative-price", _set("wti_close", -37.63, where=1250), "expect_column_values_to_be_between",
     "wti_close", ["2003-12-23"]),
    ("infinite-price", _set("nasdaq_close", np.inf, where=4000), "expect_column_values_to_be_between",
     "nasdaq_close", ["2014-11-25"]),
    ("duplicated-date", _set("date", pd.Timestamp("2008-09-30"), where=2451),
     "expect_column_values_to_be_unique", "date", ["2008-09-30"]),
    ("dates-out-of-order", lambda f: f.iloc[[*range(100), 101, 100, *range(102, len(f))]],
     "expect_column_values_to_be_increasing", "date", ["1999-05-27"]),
    ("calendar-hole", lambda f: f.drop(index=range(3000, 3020)), "expect_column_values_to_be_between",
     "date_gap_days", ["2011-01-04"]),
    ("wti-gaps-over-limit", _set("wti_close", np.nan, where=lambda f: f.index % 50 == 0),
     "expect_column_values_to_not_be_null", "wti_close", ["1999-01-04"]),
    ("short-history", lambda f: f.head(300), "expect_table_row_count_to_be_between", None, []),
]


@pytest.mark.parametrize(("mutate", "expectation_type", "column", "dates"),
                         [case[1:] for case in MARKET_DEFECTS], ids=[case[0] for case in MARKET_DEFECTS])
def test_market_history_fails_on_defect(suites, market, mutate, expectation_type, column, dates) -> None:
    """A broken market history fails, naming the expectation and the dates of the offending rows."""
    frame = mutate(market)
    result = run_suite(suites["market_history"], frame)
    assert not result.passed
    failure = _failure(result, expectation_type, column)
    assert set(dates) <= set(failure.sample_ids)
    if column is None:
        assert failure.observed == len(frame)


def test_market_history_implausible_move_is_warning_only(
    suites: dict[str, Suite], market: pd.DataFrame
) -> None:
    """A 40% one-day jump is reported as a warning with its dates, but the suite still passes."""
    jumped = market.copy()
    jumped.loc[3000, "nasdaq_close"] *= 1.5
    result = run_suite(suites["market_history"], jumped)
    assert result.passed
    assert result.failures == ()
    (warning,) = result.warnings
    assert (warning.expectation_type, warning.column, warning.severity) == (
        "expect_column_values_to_be_between", "nasdaq_log_return", "warning")
    day = market.loc[3000, "date"].date().isoformat()
    next_day = market.loc[3001, "date"].date().isoformat()
    assert warning.sample_ids == (day, next_day)  # the jump up and the fall back


SCENARIO_DEFECTS = [
    ("duplicate-id", _set("scenario_id", "hist-0", where=1), "expect_column_values_to_be_unique",
     "scenario_id", ["hist-0"]),
    ("unknown-kind", _set("kind", "historic", where=2), "expect_column_values_to_be_in_set", "kind",
     ["hist-2"]),
    ("weights-off", _set("weight_sum", 0.9, where=3), "expect_column_values_to_be_between", "weight_sum",
     ["hist-3"]),
    ("nan-weights", _set("weight_sum", np.nan, where=0), "expect_column_values_to_not_be_null", "weight_sum",
     ["hist-0"]),
    ("zero-notional", _set("notional", 0.0, where=4), "expect_column_values_to_be_between", "notional",
     ["mc-0"]),
    ("no-assets", _set("n_assets", 0, where=5), "expect_column_values_to_be_between", "n_assets", ["mc-1"]),
    ("historical-without-date", _set("as_of", pd.NaT, where=1), "expect_column_values_to_not_be_null",
     "as_of", ["hist-1"]),
]


@pytest.mark.parametrize(("mutate", "expectation_type", "column", "ids"),
                         [case[1:] for case in SCENARIO_DEFECTS], ids=[case[0] for case in SCENARIO_DEFECTS])
def test_scenarios_fail_on_defect(suites, mutate, expectation_type, column, ids) -> None:
    """A broken scenario set fails, naming the expectation and the scenario ids."""
    result = run_suite(suites["scenarios"], mutate(scenarios_frame()))
    assert not result.passed
    assert set(ids) <= set(_failure(result, expectation_type, column).sample_ids)


def test_scenarios_dated_monte_carlo_is_warning_only(suites: dict[str, Suite]) -> None:
    """A Monte Carlo draw carrying an as-of date is a warning, not a failure."""
    frame = _set("as_of", pd.Timestamp("2018-12-31"), where=5)(scenarios_frame())
    result = run_suite(suites["scenarios"], frame)
    assert result.passed
    assert [(w.column, w.sample_ids) for w in result.warnings] == [("as_of", ("mc-1",))]


def _is(component: str, engine: str = "candidate", scenario: str = "hist-1") -> Callable:
    return lambda f: (f["component"] == component) & (f["engine"] == engine) & (f["scenario_id"] == scenario)


OUTPUT_DEFECTS = [
    ("negative-var", _set("var", -5.0, where=_is("var_engine")), "expect_column_values_to_be_between", "var"),
    ("es-below-var", _set("es", 20_000.0, where=_is("var_engine")),
     "expect_column_pair_values_a_to_be_greater_than_b", "es, var"),
    ("missing-var", _set("var", np.nan, where=_is("var_engine")),
     "expect_column_pair_values_a_to_be_greater_than_b", "es, var"),
    ("missing-contracts", _set("contracts", np.nan, where=_is("hedge_calculator")),
     "expect_column_values_to_be_between", "contracts_residual"),
    ("infinite-es", _set("es", np.inf, where=_is("var_engine")), "expect_column_values_to_be_between", "es"),
    ("infinite-hedge-ratio", _set("hedge_ratio", np.inf, where=_is("hedge_calculator")),
     "expect_column_values_to_be_between", "hedge_ratio"),
    ("contracts-inconsistent", _set("contracts", 20.5, where=_is("hedge_calculator")),
     "expect_column_values_to_be_between", "contracts_residual"),
    ("unknown-engine", _set("engine", "shadow", where=_is("market_data_provider")),
     "expect_column_values_to_be_in_set", "engine"),
    ("nan-output", _set("value", np.nan, where=_is("market_data_provider")),
     "expect_column_values_to_not_be_null", "value"),
]


@pytest.mark.parametrize(("mutate", "expectation_type", "column"),
                         [case[1:] for case in OUTPUT_DEFECTS], ids=[case[0] for case in OUTPUT_DEFECTS])
def test_engine_outputs_fail_on_defect(suites, mutate, expectation_type, column) -> None:
    """Broken engine outputs fail, naming the expectation and the scenario of the bad row."""
    result = run_suite(suites["engine_outputs"], mutate(outputs_frame()))
    assert not result.passed
    assert _failure(result, expectation_type, column).sample_ids == ("hist-1",)


def test_engine_outputs_duplicate_row_fails(suites: dict[str, Suite]) -> None:
    """Two outputs for one (scenario, component, engine) fail the compound uniqueness check."""
    frame = outputs_frame()
    result = run_suite(suites["engine_outputs"], pd.concat([frame, frame.iloc[[0]]], ignore_index=True))
    failure = _failure(result, "expect_compound_columns_to_be_unique", "scenario_id, component, engine")
    assert failure.unexpected_count == 2


def test_engine_outputs_rounded_contracts_pass(suites: dict[str, Suite]) -> None:
    """A hedge rounded to whole contracts (19 for N*=19.2) is consistent."""
    frame = _set("contracts", 19.0, where=lambda f: f["component"] == "hedge_calculator")(outputs_frame())
    assert run_suite(suites["engine_outputs"], frame).passed


SHADOW_DEFECTS = [
    ("over-tolerance", _set("rel_difference", 2e-5, where=3), "expect_column_values_to_be_between",
     "rel_difference", "book-3"),
    ("missing-difference", _set("rel_difference", np.nan, where=4), "expect_column_values_to_not_be_null",
     "rel_difference", "book-4"),
    ("negative-latency", _set("legacy_latency_us", -1.0, where=5), "expect_column_values_to_be_between",
     "legacy_latency_us", "book-5"),
    ("missing-candidate-latency", _set("candidate_latency_us", np.nan, where=6),
     "expect_column_values_to_not_be_null", "candidate_latency_us", "book-6"),
    ("unknown-error-kind", _set("error_kind", "crashed", where=2), "expect_column_values_to_be_in_set",
     "error_kind", "book-2"),
    ("not-shadow-mode", _set("mode", "canary", where=1), "expect_column_values_to_be_in_set", "mode",
     "book-1"),
]


@pytest.mark.parametrize(("mutate", "expectation_type", "column", "key"),
                         [case[1:] for case in SHADOW_DEFECTS], ids=[case[0] for case in SHADOW_DEFECTS])
def test_shadow_comparisons_fail_on_defect(suites, mutate, expectation_type, column, key) -> None:
    """Broken shadow observations fail, naming the expectation and the routing key."""
    result = run_suite(suites["shadow_comparisons"], mutate(shadow_frame()))
    assert not result.passed
    assert _failure(result, expectation_type, column).sample_ids == (key,)


def test_shadow_flagged_mismatch_still_fails_naming_its_key(suites: dict[str, Suite]) -> None:
    """A difference over tolerance fails the suite even when the router already flagged it ``mismatch``.

    The router flags every comparison beyond tolerance, so excluding flagged rows would leave the
    tolerance expectation nothing to see; the suite names the routing key instead."""
    frame = _set("rel_difference", 3e-3, where=3)(shadow_frame())
    frame.loc[3, "error_kind"] = "mismatch"
    result = run_suite(suites["shadow_comparisons"], frame)
    assert not result.passed
    assert _failure(result, "expect_column_values_to_be_between", "rel_difference").sample_ids == ("book-3",)


def test_canary_window_missing_route_fails(suites: dict[str, Suite]) -> None:
    """A window in which the candidate served nothing fails, naming the missing route."""
    frame = canary_frame(200)
    legacy_only = frame[frame["route"] == "legacy"]
    result = run_suite(suites["canary_window"], legacy_only)
    failure = _failure(result, "expect_column_distinct_values_to_contain_set", "route")
    assert failure.observed == {"missing": ["candidate"]}
    assert [f.column for f in result.failures] == ["route"]


def test_canary_window_too_few_observations_fails(suites: dict[str, Suite]) -> None:
    """A window under 100 observations fails the row count, reporting the count it saw."""
    result = run_suite(suites["canary_window"], canary_frame(60))
    assert _failure(result, "expect_table_row_count_to_be_between", None).observed == 60


def test_canary_window_two_components_fail(suites: dict[str, Suite]) -> None:
    """A window mixing two components is refused."""
    frame = _set("component", "var_engine", where=7)(canary_frame())
    assert _failure(run_suite(suites["canary_window"], frame),
                    "expect_column_unique_value_count_to_be_between", "component").observed == 2


def test_canary_window_rolled_back_rows_warn_only(suites: dict[str, Suite]) -> None:
    """Rows recorded after a rollback in the window are a warning naming them, not a failure."""
    frame = _set("mode", "rolled_back", where=lambda f: f.index >= 118)(canary_frame())
    result = run_suite(suites["canary_window"], frame)
    assert result.passed
    assert [w.sample_ids for w in result.warnings] == [("book-118", "book-119")]
