"""Partitioned validation run in process: the report of one unpartitioned run, books of VaR
portfolios split in any number of partitions, and bad partition settings refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runbook.errors import BadParameter, ClusterUnavailable
from runbook.scenarios.portfolios import PORTFOLIOS
from runbook.validation import FinancialCalculationValidator
from runbook.validation.distributed import InProcess, PartitionedValidator, dask_runner

SIZE = {"historical": 120, "monte_carlo": 1_000, "seed": 4}
BOOKS = (PORTFOLIOS[1], PORTFOLIOS[3], PORTFOLIOS[7])  # 10-day, long-short, 99.9%


def comparable(report: Any) -> dict[str, Any]:
    data = json.loads(report.to_json())
    data["summary"].pop("seconds")
    data["summary"].pop("distributed", None)
    return data


def test_partitions_in_process_give_the_report_of_one_run():
    """Split by book into 3 partitions, run one after the other: every number and verdict as one run."""
    alone = FinancialCalculationValidator(check_performance=False).validate_component("correlation_analyzer",
                                                                                    **SIZE)  # fmt: skip
    split = PartitionedValidator(InProcess(), partitions=3, check_performance=False).validate_component(
        "correlation_analyzer", **SIZE
    )
    assert comparable(split) == comparable(alone)
    assert split.passed
    assert split.summary["distributed"] == {"executor": "in-process"}


def test_books_are_validated_alone_and_partitioning_changes_no_number():
    """Three VaR books, in one partition or in more partitions than books: the same report, on those
    three books only, historical and Monte Carlo."""
    one = PartitionedValidator(InProcess(), books=BOOKS, partitions=1, check_performance=False)
    many = PartitionedValidator(InProcess(), books=BOOKS, partitions=5, check_performance=False)
    first = one.validate_component("var_engine", **SIZE)
    assert comparable(many.validate_component("var_engine", **SIZE)) == comparable(first)
    assert first.passed
    assert first.summary["historical_scenarios"] == 120
    assert [block.kind for block in first.outputs] == ["historical", "monte_carlo"]
    ids = {s.portfolio_ids for block in first.outputs for s in block.scenarios}
    assert ids == {("P02-balanced-10d", "P04-long-short", "P08-equal-999")}


def test_books_apply_to_var_engine_only():
    validator = PartitionedValidator(InProcess(), books=BOOKS, check_performance=False)
    with pytest.raises(
        BadParameter, match="books of VaR portfolios apply to var_engine, not hedge_calculator"
    ):
        validator.validate_component("hedge_calculator", **SIZE)


def test_fewer_than_one_partition_or_worker_is_refused():
    with pytest.raises(BadParameter, match=r"partitions 0 must be >= 1"):
        PartitionedValidator(InProcess(), partitions=0)
    with (
        pytest.raises(BadParameter, match=r"--workers 0 must be >= 1 \(or give --dask ADDRESS\)"),
        dask_runner(workers=0),
    ):
        pass
    with pytest.raises(BadParameter, match=r"--workers None must be >= 1"), dask_runner():
        pass


def test_a_scheduler_address_that_does_not_parse_is_bad_input():
    with (
        pytest.raises(BadParameter, match=r"dask scheduler address 'nonsense' \(--dask or "
                                          r"RUNBOOK_DASK_ADDRESS\) is not usable: .*port.*; "
                                          r"allowed: tcp://HOST:PORT"),
        dask_runner(address="nonsense"),
    ):
        pass


def test_a_scheduler_that_does_not_answer_is_one_error_naming_it():
    with (
        pytest.raises(ClusterUnavailable, match=r"no dask scheduler answers at 'tcp://127.0.0.1:1'"),
        dask_runner(address="tcp://127.0.0.1:1", connect_timeout_s=0.5),
    ):
        pass
