"""FinancialCalculationValidator on the bundled real data: shipped engines pass, defects fail by name."""

from __future__ import annotations

import base64
import itertools
import json
import re

import numpy as np
import pytest

from runbook.engines.registry import load_pair, pair_of
from runbook.engines.var import VaRCalculationEngine
from runbook.validation import FinancialCalculationValidator, validate_component
from runbook.validation.performance import PerformanceGate

OUTPUT_COLUMNS = [
    "scenario_id",
    "component",
    "engine",
    "var",
    "es",
    "hedge_ratio",
    "contracts",
    "contract_size",
    "exposure",
    "value",
]


@pytest.fixture(scope="module")
def validator():
    return FinancialCalculationValidator(perf_scenarios=600)


def _run(validator, component, fault=None, historical=1_500, monte_carlo=6_000):
    return validator.validate_component(
        component, load_pair(component, fault=fault), historical=historical, monte_carlo=monte_carlo, seed=1
    )


@pytest.mark.parametrize(
    "component",
    [
        "market_data_provider",
        "performance_analyzer",
        "correlation_analyzer",
        "var_engine",
        "hedge_calculator",
    ],
)
def test_shipped_candidates_pass(validator, component):
    """Every shipped candidate passes every gating check against its legacy engine."""
    report = _run(validator, component)
    assert report.passed, [c.detail for c in report.failed_checks]
    assert report.failed_checks == ()


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("quantile_convention", "tolerance:historical:var"),
        ("small_bias", "equivalence_tost:historical:es"),
        ("rare_sign_error", "tolerance:historical:var"),
        ("slow", "latency"),
        ("memory_hungry", "memory"),
    ],
)
def test_var_faults_fail_by_name(validator, fault, check):
    """Each VaR defect fails, the report names the failing check, and the worst scenarios show it."""
    report = _run(validator, "var_engine", fault)
    assert not report.passed
    assert check in [c.name for c in report.failed_checks]
    if fault not in {"slow", "memory_hungry"}:
        worst = report.worst_scenarios[0]
        assert abs(worst.rel_difference) > 1e-5
        assert re.fullmatch(r"[HM]\d+", worst.scenario_id)


def test_inverted_cdf_is_not_passed_as_equal(validator):
    """inverted_cdf vs linear quantiles differ wherever (n - 1) c is not an integer: on far more than the
    250-day third of the 1,500 historical scenarios."""
    report = _run(validator, "var_engine", "quantile_convention")
    assert report.check("tolerance:historical:var").numbers["failures"] > 1_500 // 3
    assert not report.check("equivalence_tost:historical:var").passed
    assert not report.check("portfolios_intersection_union").passed


def test_hedge_ratio_error_is_caught_by_the_drift_limit_not_by_effectiveness(validator):
    """A 5% hedge-ratio error barely moves effectiveness (non-inferiority passes); the drift limit fails."""
    report = _run(validator, "hedge_calculator", "hedge_ratio_error_5pct")
    assert not report.passed
    assert report.check("hedge_effectiveness_noninferiority").passed
    assert not report.check("hedge_ratio_drift").passed
    assert report.check("hedge_ratio_drift").numbers["p99_drift"] == pytest.approx(0.05, rel=1e-6)


def test_bit_identical_engines_pass():
    """The same engine on both sides passes with zero differences (zero variance is not NaN).

    The latency gate reads a clock that ticks once per reading, so the verdict does not depend on
    the machine's load.
    """
    ticks = itertools.count()
    validator = FinancialCalculationValidator(
        perf_scenarios=200, performance_gate=PerformanceGate(clock=lambda: float(next(ticks)))
    )
    pair = pair_of("var_engine", VaRCalculationEngine(), VaRCalculationEngine())
    report = validator.validate_component("var_engine", pair, historical=800, monte_carlo=4_000)
    assert report.check("latency").numbers["latency_gate"]["outcome"] == "pass"
    assert report.passed
    tost = report.check("equivalence_tost:historical:var").numbers
    assert tost["p_value"] == 0.0
    assert tost["mean"] == 0.0
    assert report.check("tolerance:historical:es").numbers["max_rel"] == 0.0


def test_report_files_and_frames(validator, tmp_path):
    """write() gives JSON and a self-contained HTML with embedded PNG plots; frames follow the contracts."""
    report = _run(validator, "var_engine", "small_bias", historical=600, monte_carlo=3_000)
    paths = report.write(tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["passed"] is False
    assert "tolerance:historical:var" in data["failed_checks"]
    assert data["worst_scenarios"]
    assert data["conventions"]["quantile_method"].startswith("numpy method='linear'")
    html = paths["html"].read_text()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) == 3
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(report.outputs_frame().columns) == OUTPUT_COLUMNS
    assert len(report.outputs_frame()) == 2 * (600 + 3_000)
    assert len(report.scenarios_frame()) == 600 + 3_000
    frame = report.frame()
    assert not frame["within_tolerance"].any()
    assert {"var_legacy", "var_candidate", "var_rel_diff", "loss_rel_diff"} <= set(frame.columns)


def test_hedge_outputs_frame_carries_contract_columns(validator):
    """Hedge rows carry hedge_ratio, contracts, contract_size and exposure; other columns are NaN."""
    report = _run(validator, "hedge_calculator", historical=300, monte_carlo=2_000)
    frame = report.outputs_frame()
    historical = frame[frame["scenario_id"].str.startswith("H")]
    assert historical[["hedge_ratio", "contracts", "contract_size", "exposure"]].notna().all().all()
    assert historical["var"].isna().all()
    np.testing.assert_allclose(historical["value"], historical["hedge_ratio"])


async def test_adr_entry_points(validator):
    """validate_var_calculations / validate_hedge_calculations accept the ADR's list of dicts."""
    from runbook.engines.legacy import DriftRiskEngine

    rng = np.random.default_rng(0)
    scenarios = [
        {
            "returns": rng.normal(0, 0.01, (120, 2)),
            "weights": [0.5, 0.5],
            "notional": 1e6,
            "portfolio_id": f"p{i % 4}",
        }
        for i in range(200)
    ]
    report = await validator.validate_var_calculations(
        DriftRiskEngine(), VaRCalculationEngine(), scenarios, monte_carlo=2_000
    )
    assert report.passed, [c.detail for c in report.failed_checks]
    table = report.diagnostics["intersection_union"]["per_portfolio"]
    assert {row["portfolio_id"] for row in table if row["kind"] == "historical"} == {"p0", "p1", "p2", "p3"}


def test_full_size_validation_of_the_var_engine():
    """10,000 historical + 100,000 Monte Carlo scenarios: the shipped VaR engine passes."""
    report = validate_component("var_engine", historical=10_000, monte_carlo=100_000)
    assert report.passed, [c.detail for c in report.failed_checks]
    assert report.summary["historical_scenarios"] == 10_000
    assert report.check("tolerance:monte_carlo:loss").numbers["n"] == 100_000
