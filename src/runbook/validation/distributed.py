"""Validation partitioned by book and run on dask.distributed, with the numbers of one process.

Only the engines' work is spread: historical scenarios are split by book (every scenario of a book
in one partition), Monte Carlo by chunk (each chunk carries its own seeded draws, so both engines
revalue the very same numbers on the same worker: common random numbers fixed per partition). The
outputs come back in scenario order and the pooled statistics (tolerance, TOST, Wilcoxon, KS,
bootstrap) are computed once from all observations, exactly as in one process. The per-book cells
of the intersection-union (each book's tolerance failures, TOST and Wilcoxon, from all of that
book's observations) are computed on the workers, a group of whole books per task; the BH
adjustment and the verdict (every book passes every metric) are then taken from all of them.
Nothing is averaged across partitions.

A worker lost mid-run is survived: the scheduler reruns its partitions elsewhere (an engine that
raises is retried too), and the report's ``summary["distributed"]`` says how many were rerun and
which workers were lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from runbook.domain.components import Component, parse_component
from runbook.engines.registry import EnginePair, load_pair
from runbook.errors import BadParameter, ClusterUnavailable
from runbook.scenarios import historical as hist
from runbook.scenarios import montecarlo
from runbook.scenarios.portfolios import Portfolio
from runbook.scenarios.sets import ScenarioSet
from runbook.validation.adapters import ADAPTERS, ComponentAdapter
from runbook.validation.comparison import intersection_union, portfolio_cells
from runbook.validation.report import Check, Outputs, ValidationReport
from runbook.validation.validator import FinancialCalculationValidator, Progress

__all__ = [
    "DaskRunner",
    "InProcess",
    "PartitionRunner",
    "PartitionedValidator",
    "dask_runner",
    "describe_run",
    "take",
]

Runs = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
# Per-book tables of a batch (indexed by the draws' book index, never sliced with the draws).
_BOOK_TABLES = {"VaRSimulationBatch": frozenset({"weights", "notional"})}


class PartitionRunner(Protocol):
    """Runs one function over partitions and returns the results in order."""

    def map(self, function: Callable[..., Any], items: Sequence[Any]) -> list[Any]: ...

    def describe(self) -> dict[str, Any]: ...


class InProcess:
    """Partitions one after the other in this process (the reference for the distributed run)."""

    def map(self, function: Callable[..., Any], items: Sequence[Any]) -> list[Any]:
        return [function(*item) for item in items]

    def describe(self) -> dict[str, Any]:
        return {"executor": "in-process"}


class DaskRunner:
    """Partitions as dask.distributed tasks; ``retries`` reruns of a partition whose engine raised.

    A partition whose worker died while running it, or after computing it but before its result
    was gathered, is rerun by the scheduler on another worker; the scheduler's remove-worker events
    say which partitions and which workers, and ``describe`` reports them.
    """

    def __init__(self, client: Any, *, retries: int = 2) -> None:
        self.client, self.retries = client, retries
        self.partitions = 0
        self.rerun: set[str] = set()
        self.lost_workers: set[str] = set()

    def map(self, function: Callable[..., Any], items: Sequence[Any]) -> list[Any]:
        futures = [self.client.submit(function, *item, retries=self.retries, pure=False) for item in items]
        results = self.client.gather(futures)
        keys = {str(f.key) for f in futures}
        for worker, lost_keys in self.client.run_on_scheduler(_removals):
            if rerun := keys & lost_keys:
                self.rerun |= rerun
                self.lost_workers.add(worker)
        self.partitions += len(items)
        return list(results)

    def describe(self) -> dict[str, Any]:
        workers = self.client.scheduler_info()["workers"]
        return {
            "executor": "dask",
            "scheduler": self.client.scheduler.address,
            "workers": len(workers),
            "partitions": self.partitions,
            "partitions_rerun": len(self.rerun),
            "workers_lost": sorted(self.lost_workers),
        }


def _removals(dask_scheduler: Any) -> list[tuple[str, set[str]]]:
    """Every worker the scheduler removed, with the keys it was running or held (rerun elsewhere)."""
    return [
        (msg["worker"], {str(k) for k in (*msg["processing-tasks"], *msg["lost-computed-tasks"])})
        for _, msg in dask_scheduler.get_events("all")
        if isinstance(msg, dict) and msg.get("action") == "remove-worker"
    ]


def describe_run(distributed: dict[str, Any]) -> str:
    """One line on where a validation's engines ran and what was rerun (``summary["distributed"]``)."""
    if distributed.get("executor") != "dask":
        return "partitions run in this process"
    line = (
        f"{distributed['partitions']} partitions on {distributed['workers']} dask workers "
        f"(scheduler {distributed['scheduler']})"
    )
    lost = distributed["workers_lost"]
    if not lost:
        return line + "; no worker lost"
    return line + (
        f"; {distributed['partitions_rerun']} partition(s) rerun after losing "
        f"{len(lost)} worker(s): {', '.join(lost)}"
    )


@contextmanager
def dask_runner(
    *, address: str | None = None, workers: int | None = None, connect_timeout_s: float = 30.0
) -> Iterator[DaskRunner]:
    """A DaskRunner on the cluster at ``address``, or on a local cluster of ``workers`` processes.

    An address that does not parse is BadParameter; a scheduler silent for ``connect_timeout_s``
    is ClusterUnavailable.

    A local cluster has one thread per worker (the engines' numpy work releases the GIL rarely
    enough that processes, not threads, give parallel speed) and is closed on exit.
    """
    from dask.distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout=connect_timeout_s)
        except ValueError as exc:
            raise BadParameter(f"dask scheduler address {address!r} (--dask or RUNBOOK_DASK_ADDRESS) "
                               f"is not usable: {exc}; allowed: tcp://HOST:PORT, e.g. tcp://scheduler:8786"
                               ) from None
        except OSError as exc:
            raise ClusterUnavailable(f"no dask scheduler answers at {address!r} (--dask or "
                                     f"RUNBOOK_DASK_ADDRESS): {exc}") from None
        with client:
            yield DaskRunner(client)
        return
    if workers is None or workers < 1:
        raise BadParameter(f"--workers {workers!r} must be >= 1 (or give --dask ADDRESS)")
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskRunner(client)


def take(scenarios: ScenarioSet, rows: np.ndarray) -> ScenarioSet:
    """The scenarios at ``rows`` (every per-scenario array of the set and of its batch)."""
    size = len(scenarios)

    def pick(obj: Any) -> dict[str, Any]:
        tables = _BOOK_TABLES.get(type(obj).__name__, frozenset())
        return {
            f.name: getattr(obj, f.name)[rows]
            for f in dataclasses.fields(obj)
            if f.name not in tables
            and isinstance(getattr(obj, f.name), np.ndarray)
            and getattr(obj, f.name).shape[:1] == (size,)
        }

    batch = dataclasses.replace(scenarios.batch, **pick(scenarios.batch))  # type: ignore[type-var]
    return dataclasses.replace(scenarios, **pick(scenarios), batch=batch)


def _run_historical(component: str, pair: EnginePair, scenarios: ScenarioSet) -> Runs:
    adapter = ADAPTERS[Component(component)]
    return adapter.run_historical(pair.legacy, scenarios), adapter.run_historical(pair.candidate, scenarios)


def _run_monte_carlo(component: str, pair: EnginePair, chunk: ScenarioSet) -> Runs:
    adapter = ADAPTERS[Component(component)]
    return adapter.run_monte_carlo(pair.legacy, chunk), adapter.run_monte_carlo(pair.candidate, chunk)


class PartitionedValidator(FinancialCalculationValidator):
    """FinancialCalculationValidator whose engine runs go through a ``PartitionRunner``.

    ``books``: the VaR portfolios scenarios are drawn for (default: the bundled ones);
    ``partitions``: how many groups of books the historical scenarios are split into.
    """

    def __init__(
        self,
        runner: PartitionRunner,
        *,
        books: tuple[Portfolio, ...] | None = None,
        partitions: int = 8,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if partitions < 1:
            raise BadParameter(f"partitions {partitions!r} must be >= 1")
        self.runner, self.books, self.partitions = runner, books, partitions

    def validate_component(
        self,
        component: Component | str,
        pair: EnginePair | None = None,
        *,
        historical: int = 10_000,
        monte_carlo: int = 100_000,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> ValidationReport:
        """As FinancialCalculationValidator, on ``books`` when given (var_engine only)."""
        component = parse_component(str(component))
        if self.books is None:
            report = super().validate_component(
                component, pair, historical=historical, monte_carlo=monte_carlo, seed=seed, progress=progress
            )
        else:
            if component is not Component.VAR_ENGINE:
                raise BadParameter(f"books of VaR portfolios apply to var_engine, not {component.value}")
            hist_set = hist.var_scenarios(self.history, count=historical, seed=seed, portfolios=self.books)
            report = self.validate_scenarios(
                component, pair or load_pair(component), hist_set, monte_carlo=monte_carlo, seed=seed,
                progress=progress,
            )  # fmt: skip
        report.summary["distributed"] = self.runner.describe()
        return report

    def _compare(
        self,
        adapter: ComponentAdapter,
        pair: EnginePair,
        sets: list[ScenarioSet],
        kind: str,
        runs: tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]] | None = None,
    ) -> Outputs:
        if runs is None:
            runs = ([], [])
            for scenarios in sets:
                legacy, candidate = self._by_book(adapter, pair, scenarios, _run_historical)
                runs[0].append(legacy)
                runs[1].append(candidate)
        return super()._compare(adapter, pair, sets, kind, runs)

    def _intersection_union(self, blocks: list[Outputs]) -> tuple[Check, dict[str, Any]]:
        """Per-book cells computed in the partitions' groups of books; BH and the verdict from all."""
        return intersection_union(
            blocks,
            self.margins,
            groups=self.partitions,
            cells_of=lambda items: self.runner.map(portfolio_cells, [(item, self.margins) for item in items]),
        )

    def _by_book(
        self,
        adapter: ComponentAdapter,
        pair: EnginePair,
        scenarios: ScenarioSet,
        function: Callable[..., Runs],
    ) -> Runs:
        """Both engines' outputs on ``scenarios``, computed in partitions of whole books."""
        books = np.arange(len(scenarios.portfolio_ids))
        groups = np.array_split(books, min(self.partitions, books.size))
        rows = [np.flatnonzero(np.isin(scenarios.portfolio_index, g)) for g in groups]
        rows = [r for r in rows if r.size]
        component = adapter.component.value
        results = self.runner.map(function, [(component, pair, take(scenarios, r)) for r in rows])
        size = len(scenarios)
        return _scatter(size, rows, [r[0] for r in results]), _scatter(size, rows, [r[1] for r in results])

    def _monte_carlo(
        self, adapter: ComponentAdapter, pair: EnginePair, count: int, seed: int, report: Progress
    ) -> Outputs:
        if self.books is not None:
            chunks = montecarlo.var_mc(
                self.history, count=count, seed=seed, chunk_size=self.chunk_size, portfolios=self.books
            )
        else:
            chunks = adapter.monte_carlo(self.history, count=count, seed=seed, chunk_size=self.chunk_size)
        sets: list[ScenarioSet] = []
        old_runs, new_runs = [], []
        done = 0
        for chunk in chunks:  # one chunk of draws in memory at a time, as in one process
            legacy, candidate = self._by_book(adapter, pair, chunk, _run_monte_carlo)
            old_runs.append(legacy)
            new_runs.append(candidate)
            sets.append(dataclasses.replace(chunk, batch=None))
            done += len(chunk)
            report("monte carlo scenarios", done, count)
        return self._compare(adapter, pair, sets, "monte_carlo", (old_runs, new_runs))


def _scatter(size: int, rows: list[np.ndarray], parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-partition outputs put back in scenario order."""
    out = {metric: np.empty(size, dtype=np.float64) for metric in parts[0]}
    for index, part in zip(rows, parts, strict=True):
        for metric, values in part.items():
            out[metric][index] = values
    return out
