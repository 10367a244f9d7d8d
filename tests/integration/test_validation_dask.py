"""Validation on a real 2-worker dask LocalCluster: the same report, numbers and verdict, as one process."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest
from distributed import get_worker

from runbook.engines.performance import PerformanceAnalyzer
from runbook.engines.registry import load_pair, pair_of
from runbook.validation import FinancialCalculationValidator
from runbook.validation.distributed import DaskRunner, PartitionedValidator, dask_runner, describe_run
from runbook.validation.html import render_html

# Workers unpickle this module's engine by value: they never import the test module itself.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
SIZE: dict[str, Any] = {"historical": 400, "monte_carlo": 3_000, "seed": 3}


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


class DiesOnceOnAWorker(PerformanceAnalyzer):
    """The shipped candidate, except that its first batch on a dask worker ends that worker's process
    (``marker`` is created first, so no later batch does); in the test's own process it never does."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def performance_batch(self, batch: Any) -> Any:
        try:
            get_worker()
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except (ValueError, FileExistsError):  # not on a worker, or a worker already died
            return super().performance_batch(batch)
        os._exit(1)


def test_a_worker_lost_mid_run_is_survived_and_reported(tmp_path: Any) -> None:
    """A worker process dies running a partition: the scheduler reruns what it lost on the others,
    the report equals one process's, and summary["distributed"], the text line and the HTML page
    say how many partitions were rerun and which worker was lost."""
    marker = tmp_path / "worker-killed"
    pair = pair_of(
        "performance_analyzer", load_pair("performance_analyzer").legacy, DiesOnceOnAWorker(str(marker))
    )
    alone = FinancialCalculationValidator(check_performance=False).validate_component(
        "performance_analyzer", pair, **SIZE
    )
    with dask_runner(workers=2) as runner:  # a cluster of its own: one of its workers dies
        started_with = set(runner.client.scheduler_info()["workers"])
        spread = PartitionedValidator(runner, check_performance=False).validate_component(
            "performance_analyzer", pair, **SIZE
        )
        still_there = set(runner.client.scheduler_info()["workers"])

    assert marker.exists()
    assert comparable(spread) == comparable(alone)
    assert spread.passed
    described = spread.summary["distributed"]
    [lost] = described["workers_lost"]
    assert lost in started_with
    assert lost not in still_there
    assert 1 <= described["partitions_rerun"] <= described["partitions"]
    line = describe_run(described)
    assert line.endswith(
        f"{described['partitions_rerun']} partition(s) rerun after losing 1 worker(s): {lost}"
    )
    assert line in render_html(spread)


def test_in_process_and_healthy_runs_say_so() -> None:
    assert describe_run({"executor": "in-process"}) == "partitions run in this process"
    healthy = {"executor": "dask", "scheduler": "tcp://127.0.0.1:1", "workers": 2, "partitions": 9,
               "partitions_rerun": 0, "workers_lost": []}  # fmt: skip
    assert (
        describe_run(healthy)
        == "9 partitions on 2 dask workers (scheduler tcp://127.0.0.1:1); no worker lost"
    )


def test_the_text_summary_says_where_the_engines_ran(runner: DaskRunner, capsys: Any) -> None:
    """``runbook validate --dask ADDRESS`` prints the one line on workers, partitions and losses."""
    from runbook.cli import main

    address = runner.client.scheduler.address
    argv = [
        "validate",
        "performance_analyzer",
        "--dask",
        address,
        "--historical",
        "200",
        "--monte-carlo",
        "1000",
    ]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert re.search(
        rf"\d+ partitions on 2 dask workers \(scheduler {re.escape(address)}\); no worker lost", out
    )
