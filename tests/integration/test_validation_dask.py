"""Validation on a real 2-worker dask LocalCluster: the same report, numbers and verdict, as one process."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

from runbook.engines.registry import load_pair
from runbook.validation import FinancialCalculationValidator
from runbook.validation.distributed import DaskRunner, PartitionedValidator, dask_runner

# Workers unpickle this module's engine by value: they never import the test module itself.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
SIZE = {"historical": 400, "monte_carlo": 3_000, "seed": 3}


@pytest.fixture(scope="module")
def runner() -> Iterator[DaskRunner]:
    with dask_runner(workers=2) as started:
        yield started


def comparable(report: Any) -> dict[str, Any]:
    """The report as JSON, without its wall time and the executor's description."""
    data = json.loads(report.to_json())
    data["summary"].pop("seconds")
    data["summary"].pop("distributed", None)
    return data


@pytest.mark.parametrize(("component", "fault"), [("performance_analyzer", None),
                                                  ("market_data_provider", "gap_fill_forward")])  # fmt: skip
def test_two_workers_give_the_report_of_one_process(
    runner: DaskRunner, component: str, fault: str | None
) -> None:
    """Every number, check and verdict of a validation split by book over 2 workers equal one process's."""
    pair = load_pair(component, fault=fault)
    alone = FinancialCalculationValidator(check_performance=False).validate_component(component, pair, **SIZE)
    spread = PartitionedValidator(runner, check_performance=False).validate_component(component, pair, **SIZE)

    assert comparable(spread) == comparable(alone)
    assert spread.passed is alone.passed is (fault is None)
    described = spread.summary["distributed"]
    assert described["executor"] == "dask"
    assert described["workers"] == 2
    assert described["partitions"] > 2


def test_a_running_scheduler_is_used_by_its_address_and_left_running(runner: DaskRunner) -> None:
    """``--dask ADDRESS``: partitions go to that scheduler's workers; leaving closes only the client."""
    address = runner.client.scheduler.address
    pair = load_pair("correlation_analyzer")
    with dask_runner(address=address) as remote:
        report = PartitionedValidator(remote, check_performance=False).validate_component(
            "correlation_analyzer", pair, historical=200, monte_carlo=1_000, seed=1
        )
    assert report.passed
    described = report.summary["distributed"]
    assert (described["scheduler"], described["workers"]) == (address, 2)
    assert described["partitions"] >= 2
    assert described["workers_lost"] == []
    assert runner.describe()["workers"] == 2
