"""Validate any catalog component on the firm's requests: from its market data and portfolios
(built-in kinds ``var`` and ``market_data``), or from a requests file (any kind).

The market data named is the one used, for requests and the backtest alike; without one, the
bundled history is used and the report's ``data`` block says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runbook.domain.catalog import ComponentEntry, Kind, entry_of
from runbook.engines.callables import EngineCallable, wrap_callable
from runbook.engines.catalog_pair import catalog_engines
from runbook.scenarios.catalog_requests import GENERATED_KINDS, Sources, generated_requests, market_data_of
from runbook.scenarios.requests_file import Request, read_requests
from runbook.validation.report import Check, ValidationReport
from runbook.validation.requests_path import skipped, validate_requests

PARAMETRIC_SHARE = 5  # one request in five asks for parametric VaR when both engines take ``method``


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
    seed: int = 0,
    engines: tuple[EngineCallable, EngineCallable] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> ValidationReport:
    """Validate ``name`` through its single-request callables on the requests ``sources`` give."""
    entry = entry_of(name)
    sources = sources.or_declared(entry)
    legacy, candidate = engines or catalog_engines(entry)
    if sources.requests:
        requests = read_requests(sources.requests)
        data = market_data_of(entry, sources.market_data)[1] if sources.market_data else None
        extra = [lambda: skipped("backtest_traffic_light", "requests come from a file; no market data given")]
        if sources.market_data:
            extra = [_quality_maker(entry, sources)]
        if entry.kind is Kind.VAR and sources.market_data:
            extra.append(_backtest_maker(entry, sources, legacy, candidate))
        source = f"requests file {sources.requests}"
        return validate_requests(entry, legacy, candidate, requests, source=source, data=data,
                                 extra_checks=extra, timer=timer)  # fmt: skip
    if entry.kind not in GENERATED_KINDS:
        generated_requests(entry, None, sources, count=0, seed=seed)  # raises, naming what to give
    history, data = market_data_of(entry, sources.market_data)
    requests, extra = _generated(entry, history, sources, legacy, candidate, count=count, seed=seed)
    source = f"generated from market data {data['path']}"
    return validate_requests(entry, legacy, candidate, requests, source=source, data=data,
                             extra_checks=extra, timer=timer)  # fmt: skip


def _generated(
    entry: ComponentEntry, history: Any, sources: Sources, legacy: EngineCallable, candidate: EngineCallable,
    *, count: int, seed: int,
) -> tuple[list[Request], list[Callable[[], Check]]]:
    requests = generated_requests(entry, history, sources, count=count, seed=seed)
    quality = _quality_maker(entry, sources)
    if entry.kind is Kind.MARKET_DATA:
        return requests, [quality]
    refusing = [e for e in (legacy, candidate) if not e.accepts("method")]
    if refusing:
        reason = f"engine {refusing[0].path!r} takes no 'method' argument (parametric VaR is optional)"
        extra: list[Callable[[], Check]] = [lambda: skipped("parametric_var", reason)]
    else:
        for request in requests[::PARAMETRIC_SHARE]:
            request.kwargs["method"] = "parametric"
        extra = []
    monte_carlo = skipped("monte_carlo_var_es", "Monte Carlo draws feed the shipped engines' batch "
                          "methods only; here every request is a market-data window through the callables")
    backtest = _backtest_maker(entry, sources, legacy, candidate, history)
    return requests, [quality, *extra, lambda: monte_carlo, backtest]


def _quality_maker(entry: ComponentEntry, sources: Sources) -> Callable[[], Check]:
    def make() -> Check:
        from runbook.validation.data_quality import market_data_quality

        return market_data_quality(sources.market_data, date_column=entry.date_column)

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
