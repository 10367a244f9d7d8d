"""The suites on what the project ships: the bundled market history as its loader reads it, and the
scenario and output frames of a real validation of every component's shipped engines."""

from __future__ import annotations

import pytest

from runbook.domain.components import Component
from runbook.engines.registry import load_pair
from runbook.quality import run_suite
from runbook.scenarios.loader import load_market_history
from runbook.validation import FinancialCalculationValidator, ValidationReport

# Small counts keep the test fast; the frames' shapes do not depend on them.
HISTORICAL, MONTE_CARLO = 300, 2_000


@pytest.fixture(scope="module")
def validator() -> FinancialCalculationValidator:
    return FinancialCalculationValidator(check_performance=False)


@pytest.fixture(scope="module")
def reports(validator: FinancialCalculationValidator) -> dict[str, ValidationReport]:
    """One validation per component, shipped legacy vs shipped candidate."""
    return {c.value: validator.validate_component(c, historical=HISTORICAL, monte_carlo=MONTE_CARLO, seed=3)
            for c in Component}


def test_market_history_loader_frame_passes() -> None:
    """The market history frame the scenarios package builds from the bundled data passes, no warning."""
    result = run_suite("market_history", load_market_history().frame())
    assert result.passed, result.markdown()
    assert (result.row_count, result.warnings) == (5031, ())


@pytest.mark.parametrize("component", [c.value for c in Component])
def test_shipped_scenarios_pass(reports: dict[str, ValidationReport], component: str) -> None:
    """Every scenario the validator builds for a component (historical and Monte Carlo) passes."""
    frame = reports[component].scenarios_frame()
    assert set(frame["kind"]) == {"historical", "monte_carlo"}
    result = run_suite("scenarios", frame)
    assert result.passed, result.markdown()
    assert result.warnings == ()
    assert result.row_count == HISTORICAL + MONTE_CARLO


@pytest.mark.parametrize("component", [c.value for c in Component])
def test_shipped_engine_outputs_pass(reports: dict[str, ValidationReport], component: str) -> None:
    """Both shipped engines' outputs for every component pass, with no warning."""
    frame = reports[component].outputs_frame()
    result = run_suite("engine_outputs", frame)
    assert result.passed, result.markdown()
    assert result.warnings == ()
    assert result.row_count == 2 * (HISTORICAL + MONTE_CARLO)


def test_shipped_outputs_exercise_var_and_hedge_checks(reports: dict[str, ValidationReport]) -> None:
    """The VaR and hedge rows really carry VaR, ES and contracts, so those checks are not vacuous."""
    var = reports["var_engine"].outputs_frame()
    hedge = reports["hedge_calculator"].outputs_frame()
    assert int(var["var"].notna().sum()) == int(var["es"].notna().sum()) == 2 * HISTORICAL
    assert int(hedge["contracts"].notna().sum()) == 2 * HISTORICAL


def test_faulty_candidate_outputs_fail(validator: FinancialCalculationValidator) -> None:
    """The shipped ``rare_sign_error`` VaR candidate fails the output suite on exactly its negative VaRs."""
    faulty = load_pair("var_engine", fault="rare_sign_error")
    report = validator.validate_component("var_engine", faulty, historical=2_000, monte_carlo=0, seed=3)
    frame = report.outputs_frame()
    negative = frame.loc[frame["var"] < 0, "scenario_id"]
    assert len(negative) > 0
    result = run_suite("engine_outputs", frame, sample_size=len(negative))
    assert not result.passed
    by_column = {f.column: f for f in result.failures}
    assert by_column["var"].unexpected_count == len(negative)
    assert set(by_column["var"].sample_ids) == set(negative)
    assert set(by_column) == {"var", "es", "es, var"}
