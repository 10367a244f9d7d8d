"""Scenario sets: historical grids from real data, Monte Carlo chunks with common random numbers, replay."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.errors import BadParameter
from runbook.scenarios import historical, montecarlo
from runbook.scenarios.loader import load_market_history
from runbook.scenarios.replay import replay_requests

SCENARIO_COLUMNS = [
    "scenario_id",
    "kind",
    "as_of",
    "portfolio_id",
    "n_assets",
    "window_days",
    "weight_sum",
    "notional",
]


@pytest.fixture(scope="module")
def history():
    return load_market_history()


@pytest.mark.parametrize(
    "builder",
    [
        historical.var_scenarios,
        historical.hedge_scenarios,
        historical.market_data_scenarios,
        historical.performance_scenarios,
        historical.correlation_scenarios,
    ],
)
def test_every_component_has_ten_thousand_real_scenarios(history, builder):
    """Each builder yields 10,000 distinct scenarios with the scenario frame contract."""
    scenarios = builder(history, count=10_000, seed=1)
    frame = scenarios.frame()
    assert list(frame.columns) == SCENARIO_COLUMNS
    assert len(frame) == 10_000
    assert frame["scenario_id"].is_unique
    assert (frame["kind"] == "historical").all()
    assert frame["as_of"].notna().all()
    assert (frame["notional"] > 0).all()
    assert len(scenarios.batch) == 10_000


def test_var_scenario_window_ends_on_its_as_of_date(history):
    """The window's last return is the one into the as-of date."""
    scenarios = historical.var_scenarios(history, count=50, seed=2)
    complete = history.complete()
    day = int(np.flatnonzero(complete.dates == scenarios.as_of[7])[0])
    expected = np.log(complete.prices[day] / complete.prices[day - 1])
    np.testing.assert_allclose(scenarios.batch.returns[7, -1], expected, rtol=1e-12)


def test_sampling_is_seeded(history):
    """The same seed picks the same scenarios; another seed picks others."""
    a = historical.var_scenarios(history, count=100, seed=3)
    b = historical.var_scenarios(history, count=100, seed=3)
    c = historical.var_scenarios(history, count=100, seed=4)
    np.testing.assert_array_equal(a.as_of, b.as_of)
    assert not np.array_equal(a.as_of, c.as_of)


def test_too_many_historical_scenarios_is_refused(history):
    """Asking for more cells than the grid holds names the limit."""
    with pytest.raises(BadParameter, match="must lie in"):
        historical.market_data_scenarios(history, count=10_000_000)


def test_monte_carlo_draws_have_the_calibrated_covariance(history):
    """300,000 correlated draws reproduce the calibration covariance within sampling error."""
    calibration = montecarlo.calibrate(history)
    draws = np.concatenate(
        [
            d
            for _, d in montecarlo.MonteCarloGenerator(
                calibration.covariance, seed=1, chunk_size=100_000
            ).draws(300_000)
        ]
    )
    np.testing.assert_allclose(np.cov(draws, rowvar=False), calibration.covariance, rtol=0.03, atol=2e-6)


def test_monte_carlo_chunks_are_reproducible(history):
    """The same seed and chunk size give identical draws (common random numbers for both engines)."""
    first = [
        s.batch.returns.copy() for s in montecarlo.var_mc(history, count=25_000, seed=9, chunk_size=10_000)
    ]
    second = [
        s.batch.returns.copy() for s in montecarlo.var_mc(history, count=25_000, seed=9, chunk_size=10_000)
    ]
    assert [len(x) for x in first] == [10_000, 10_000, 5_000]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_monte_carlo_scenario_frame(history):
    """Monte Carlo scenarios have ids continuing across chunks and NaT as-of dates."""
    chunks = list(montecarlo.hedge_mc(history, count=3_000, seed=0, chunk_size=1_000))
    frame = chunks[2].frame()
    assert frame["scenario_id"].iloc[0] == "M0002000"
    assert frame["as_of"].isna().all()
    assert (frame["kind"] == "monte_carlo").all()


@pytest.mark.parametrize(
    "component", ["market_data_provider", "performance_analyzer", "correlation_analyzer"]
)
def test_window_monte_carlo_for_non_critical_components(history, component):
    """Simulated windows exist for every non-critical component; WTI gaps appear where allowed."""
    chunk = next(montecarlo.window_mc(component, history, count=2_000, seed=0))
    assert len(chunk) == 2_000
    if component == "correlation_analyzer":
        assert np.isnan(chunk.batch.returns[:, :, 2]).any()


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
def test_replay_yields_keyed_requests(component):
    """replay_requests yields (routing key, frozen request) pairs, the same ones for the same seed."""
    first = list(replay_requests(component, count=20, seed=5))
    second = list(replay_requests(component, count=20, seed=5))
    assert len(first) == 20
    assert [k for k, _ in first] == [k for k, _ in second]
    key, request = first[0]
    assert "#" in key
    field = next(iter(request.__dataclass_fields__))
    with pytest.raises(AttributeError):
        setattr(request, field, None)
