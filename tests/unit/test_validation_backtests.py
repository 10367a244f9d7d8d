"""Backtests against published numbers: Kupiec (MathWorks examples), Basel traffic light table."""

from __future__ import annotations

import numpy as np
import pytest

from runbook.validation.backtests import (
    Zone,
    backtest,
    christoffersen_conditional_coverage,
    christoffersen_independence,
    kupiec_pof,
    traffic_light,
)


@pytest.mark.parametrize(
    ("n", "x", "level", "lr", "p"),
    [
        (1043, 57, 0.95, 0.46147, 0.49694),
        (1043, 17, 0.99, 3.5118, 0.060933),
        (250, 0, 0.99, 5.0252, 0.024982),
    ],
)
def test_kupiec_pof_matches_published_values(n, x, level, lr, p):
    """LR statistic and p-value of the three MathWorks varbacktest examples."""
    result = kupiec_pof(n, x, level)
    assert result.statistic == pytest.approx(lr, abs=5e-5)
    assert result.p_value == pytest.approx(p, abs=5e-6)


TABLE = [
    (0, 8.11, "green", 0.0),
    (1, 28.58, "green", 0.0),
    (2, 54.32, "green", 0.0),
    (3, 75.81, "green", 0.0),
    (4, 89.22, "green", 0.0),
    (5, 95.88, "yellow", 0.40),
    (6, 98.63, "yellow", 0.50),
    (7, 99.60, "yellow", 0.65),
    (8, 99.89, "yellow", 0.75),
    (9, 99.97, "yellow", 0.85),
    (10, 99.99, "red", 1.00),
]


@pytest.mark.parametrize(("exceptions", "cumulative", "zone", "plus"), TABLE)
def test_basel_traffic_light_table(exceptions, cumulative, zone, plus):
    """250 days at 99%: cumulative probability, zone and plus factor of the Basel table."""
    light = traffic_light(exceptions)
    assert round(light.cumulative_probability * 100, 2) == pytest.approx(cumulative, abs=1e-9)
    assert light.zone == Zone(zone)
    assert light.plus_factor == pytest.approx(plus)


def test_more_than_ten_exceptions_stay_red():
    """Any count above ten is red with plus factor 1."""
    assert traffic_light(14).zone is Zone.RED
    assert traffic_light(14).plus_factor == 1.0


def test_christoffersen_flags_clustered_exceptions():
    """The same number of exceptions, clustered, fails independence; spread out, it does not."""
    spread = np.zeros(1000, dtype=bool)
    spread[::100] = True
    clustered = np.zeros(1000, dtype=bool)
    clustered[500:510] = True
    assert christoffersen_independence(spread).p_value > 0.3
    assert christoffersen_independence(clustered).p_value < 1e-6
    assert christoffersen_conditional_coverage(clustered, 0.99).p_value < 1e-4


def test_backtest_counts_exceptions_and_uses_the_last_250_days_for_the_zone():
    """Exceptions are losses above VaR; the zone looks at the most recent 250 days only."""
    losses = np.zeros(1000)
    losses[:50] = 10.0  # many early exceptions
    losses[-3:] = 10.0
    result = backtest(losses, np.full(1000, 5.0), confidence=0.99)
    assert result.exceptions == 53
    assert result.traffic_light.exceptions == 3
    assert result.traffic_light.zone is Zone.GREEN
    assert result.to_dict()["traffic_light"]["zone"] == "green"
