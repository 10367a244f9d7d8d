"""Validation on a real 2-worker dask LocalCluster: the same report as one process, a lost worker survived."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from runbook.engines.performance import PerformanceAnalyzer
from runbook.engines.registry import load_pair, pair_of
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


class DiesOnce(PerformanceAnalyzer):
    """The shipped candidate, except that its first batch call kills the worker process running it."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def performance_batch(self, batch: Any) -> Any:
        try:  # atomic: of partitions running at once on both workers, exactly one dies
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super().performance_batch(batch)
        os._exit(1)  # the worker process dies mid-partition, as a crashed host would


def test_a_worker_lost_mid_run_is_rerun_and_reported(tmp_path: Path) -> None:
    """A worker dying inside a partition costs a rerun elsewhere: same report, and the summary says so."""
    shipped = load_pair("performance_analyzer")
    pair = pair_of("performance_analyzer", shipped.legacy, DiesOnce(str(tmp_path / "died")))
    size = {"historical": 200, "monte_carlo": 0, "seed": 1}
    alone = FinancialCalculationValidator(check_performance=False).validate_component(
        "performance_analyzer", load_pair("performance_analyzer"), **size
    )
    with dask_runner(workers=2) as runner:
        spread = PartitionedValidator(runner, check_performance=False).validate_component(
            "performance_analyzer", pair, **size
        )

    assert (tmp_path / "died").exists()
    assert comparable(spread)["checks"] == comparable(alone)["checks"]
    assert spread.passed is alone.passed is True
    described = spread.summary["distributed"]
    assert described["partitions_rerun"] >= 1
    assert described["workers_lost"]  # the dead worker's address (its nanny starts a new one)
