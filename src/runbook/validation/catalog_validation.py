"""Validate any catalog component on the firm's requests: from its market data and portfolios
(built-in kinds ``var`` and ``market_data``), or from a requests file (any kind).

The market data named is the one used, for requests, the data-quality suite, the Monte Carlo
calibration and the backtest alike; without one, the bundled history is used and the report's
``data`` block says so (its ``monte_carlo`` entry: what the simulation was calibrated on and how).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runbook.domain.catalog import ComponentEntry, Kind, entry_of
from runbook.engines.callables import EngineCallable, wrap_callable
from runbook.engines.catalog_pair import catalog_batches, catalog_engines
from runbook.scenarios.catalog_requests import GENERATED_KINDS, Sources, generated_requests, market_data_of
from runbook.scenarios.requests_file import Request, read_requests
from runbook.validation.report import Check, ValidationReport
from runbook.validation.requests_path import skipped, validate_requests

PARAMETRIC_SHARE = 5  # one request in five asks for parametric VaR when both engines take ``method``
MONTE_CARLO_REQUESTS = 1_000  # simulated windows per validation of kind var, by default
DATA_QUALITY_CHECK = "data_quality:market_prices"

# The data-quality check of a price file (path, or None for the bundled one; its date column):
# Great Expectations lives outside this ring, so callers hand it in (runbook.quality.market_check).
DataQualityCheck = Callable[[str | None, str], Check]


def pair_engines(pair: Any) -> tuple[EngineCallable, EngineCallable]:
    """A shipped-protocol EnginePair's single-request methods behind plain keyword arguments."""
    import sys

    from runbook.engines.plain import plain_callable

    def wrap(path: str, engine: Any) -> EngineCallable:
        module = sys.modules.get(type(engine).__module__)
        return wrap_callable(path, plain_callable(pair.component, engine), getattr(module, "__file__", None))

    return wrap(pair.legacy_path, pair.legacy), wrap(pair.candidate_path, pair.candidate)


def validate_catalog_component(
    name: str,
    sources: Sources = Sources(),
    *,
    count: int = 10_000,
    monte_carlo: int = MONTE_CARLO_REQUESTS,
    seed: int = 0,
    engines: tuple[EngineCallable, EngineCallable] | None = None,
    timer: Callable[[], float] = time.perf_counter,
    data_quality: DataQualityCheck | None = None,
) -> ValidationReport:
    """Validate ``name`` through its single-request callables on the requests ``sources`` give.

    ``count`` requests are generated from market data (a requests file gives all of its own);
    for kind ``var``, ``monte_carlo`` more on windows simulated from the market data's returns.
    ``data_quality`` checks the market data (the CLI and the flows pass Great Expectations'
    ``market_prices`` suite); without it that check is reported as skipped.
    """
    entry = entry_of(name)
    sources = sources.or_declared(entry)
    legacy, candidate = engines or catalog_engines(entry)
    if sources.requests:
        requests = read_requests(sources.requests)
        history, data = market_data_of(entry, sources.market_data) if sources.market_data else (None, None)
        source = f"from requests file {sources.requests}"
    else:
        if entry.kind not in GENERATED_KINDS:
            generated_requests(entry, None, sources, count=0, seed=seed)  # raises, naming what to give
        history, data = market_data_of(entry, sources.market_data)
        requests = generated_requests(entry, history, sources, count=count, seed=seed)
        source = f"generated from market data {data['path']}"
    if history is None:
        extra = [lambda: skipped("backtest_traffic_light", "requests come from a file; no market data given")]
        if entry.kind is Kind.VAR:
            extra.append(lambda: skipped("monte_carlo_var_es", "requests come from a file; no market data "
                                                               "given to calibrate the simulation on"))
    else:
        assert data is not None
        extra = [_quality_maker(entry, sources, data_quality)]
        if entry.kind is Kind.VAR:
            extra += _var_checks(entry, history, data, sources, (legacy, candidate), requests,
                                 generated=not sources.requests, monte_carlo=monte_carlo,
                                 seed=seed)  # fmt: skip
    batches = catalog_batches(entry) if entry.batch and engines is None else None
    return validate_requests(entry, legacy, candidate, requests, source=source, data=data,
                             extra_checks=extra, timer=timer, batches=batches)  # fmt: skip


def _var_checks(
    entry: ComponentEntry, history: Any, data: dict[str, Any], sources: Sources,
    engines: tuple[EngineCallable, EngineCallable], requests: list[Request], *, generated: bool,
    monte_carlo: int, seed: int,
) -> list[Callable[[], Check]]:
    """Parametric VaR (generated requests), Monte Carlo calibrated on the data, and the backtest."""
    legacy, candidate = engines
    extra: list[Callable[[], Check]] = []
    refusing = [e for e in engines if not e.accepts("method")]
    if generated and refusing:
        reason = f"engine {refusing[0].path!r} takes no 'method' argument (parametric VaR is optional)"
        extra.append(lambda: skipped("parametric_var", reason))
    elif generated:
        for request in requests[::PARAMETRIC_SHARE]:
            request.kwargs["method"] = "parametric"
    extra.append(_monte_carlo_maker(entry, history, data, sources, engines, count=monte_carlo, seed=seed))
    extra.append(_backtest_maker(entry, sources, legacy, candidate, history))
    return extra


def _monte_carlo_maker(
    entry: ComponentEntry, history: Any, data: dict[str, Any], sources: Sources,
    engines: tuple[EngineCallable, EngineCallable], *, count: int, seed: int,
) -> Callable[[], Check]:
    """Calibrates now (the ``data`` block says on what), simulates and runs when the check is made."""
    from runbook.scenarios.user_data import load_portfolios
    from runbook.scenarios.user_montecarlo import WINDOW, calibrate_returns, monte_carlo_requests

    if count <= 0:
        return lambda: skipped("monte_carlo_var_es", f"Monte Carlo requests: {count} asked for")
    calibration = calibrate_returns(history)
    where = "the bundled market history" if data.get("bundled") else str(data["path"])
    data["monte_carlo"] = {**calibration.to_dict(), "calibrated_on": where, "requests": count,
                           "window_days": WINDOW, "seed": seed}  # fmt: skip

    def make() -> Check:
        from runbook.validation.catalog_montecarlo import monte_carlo_check

        books = load_portfolios(sources.portfolios, history.assets)
        requests = monte_carlo_requests(calibration, books, count=count, seed=seed)
        return monte_carlo_check(entry, *engines, requests, calibrated_on=where)

    return make


def _quality_maker(
    entry: ComponentEntry, sources: Sources, data_quality: DataQualityCheck | None
) -> Callable[[], Check]:
    if data_quality is None:
        return lambda: skipped(DATA_QUALITY_CHECK, "no data-quality suite runner given (the CLI and the "
                                                   "flows run Great Expectations' market_prices suite)")

    def make() -> Check:
        return data_quality(sources.market_data, entry.date_column)

    return make


def _backtest_maker(
    entry: ComponentEntry, sources: Sources, legacy: EngineCallable, candidate: EngineCallable,
    history: Any = None,
) -> Callable[[], Check]:
    def make() -> Check:
        from runbook.validation.catalog_backtest import backtest_check

        loaded = history if history is not None else market_data_of(entry, sources.market_data)[0]
        return backtest_check(loaded, sources, legacy, candidate, data_path=sources.market_data)

    return make
