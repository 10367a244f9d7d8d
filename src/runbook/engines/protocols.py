"""The ``Engine`` protocol of each component: what a legacy, candidate or user engine must offer.

A user engine plugged in by import path must have the component's methods (checked on load):
a sync single-request method (what routers call), its async twin (the ADR's ``await``), a batch
method (what the validator calls) and, for VaR and hedging, a Monte Carlo revaluation method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from runbook.domain.components import Component
from runbook.engines import batches as bt
from runbook.engines import requests as rq


@runtime_checkable
class MarketDataEngine(Protocol):
    async def get_returns(self, request: rq.MarketDataRequest, /) -> rq.MarketDataResult: ...
    def get_returns_sync(self, request: rq.MarketDataRequest, /) -> rq.MarketDataResult: ...
    def returns_batch(self, batch: bt.PriceWindowBatch) -> dict[str, np.ndarray]: ...


@runtime_checkable
class PerformanceEngine(Protocol):
    async def analyze_performance(self, request: rq.PerformanceRequest, /) -> rq.PerformanceResult: ...
    def analyze_performance_sync(self, request: rq.PerformanceRequest, /) -> rq.PerformanceResult: ...
    def performance_batch(self, batch: bt.PortfolioWindowBatch) -> dict[str, np.ndarray]: ...


@runtime_checkable
class CorrelationEngine(Protocol):
    async def calculate_correlations(self, request: rq.CorrelationRequest, /) -> rq.CorrelationResult: ...
    def calculate_correlations_sync(self, request: rq.CorrelationRequest, /) -> rq.CorrelationResult: ...
    def correlation_batch(self, batch: bt.ReturnWindowBatch) -> dict[str, np.ndarray]: ...


@runtime_checkable
class VaREngine(Protocol):
    async def calculate_var(self, request: rq.VaRRequest, /) -> rq.VaRResult: ...
    def calculate_var_sync(self, request: rq.VaRRequest, /) -> rq.VaRResult: ...
    def var_batch(self, batch: bt.VaRBatch) -> dict[str, np.ndarray]: ...
    def simulate_losses(self, batch: bt.VaRSimulationBatch) -> np.ndarray: ...
    def var_from_losses(
        self, losses: np.ndarray, *, confidence: float, horizon_days: int = 1
    ) -> rq.VaRResult: ...


@runtime_checkable
class HedgeEngine(Protocol):
    async def calculate_hedge(self, request: rq.HedgeRequest, /) -> rq.HedgeResult: ...
    def calculate_hedge_sync(self, request: rq.HedgeRequest, /) -> rq.HedgeResult: ...
    def hedge_batch(self, batch: bt.HedgeBatch) -> dict[str, np.ndarray]: ...
    def simulate_hedged_pnl(self, batch: bt.HedgeSimulationBatch) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True, slots=True)
class EngineMethods:
    """Method names of one component's protocol, used by routers, the registry and the validator."""

    protocol: type
    single: str
    single_async: str
    batch: str
    simulate: str | None
    request_type: type
    result_type: type
    extra: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        names = (self.single, self.single_async, self.batch, self.simulate, *self.extra)
        return tuple(name for name in names if name)


ENGINE_METHODS: dict[str, EngineMethods] = {
    Component.MARKET_DATA_PROVIDER: EngineMethods(
        MarketDataEngine,
        "get_returns_sync",
        "get_returns",
        "returns_batch",
        None,
        rq.MarketDataRequest,
        rq.MarketDataResult,
    ),
    Component.PERFORMANCE_ANALYZER: EngineMethods(
        PerformanceEngine,
        "analyze_performance_sync",
        "analyze_performance",
        "performance_batch",
        None,
        rq.PerformanceRequest,
        rq.PerformanceResult,
    ),
    Component.CORRELATION_ANALYZER: EngineMethods(
        CorrelationEngine,
        "calculate_correlations_sync",
        "calculate_correlations",
        "correlation_batch",
        None,
        rq.CorrelationRequest,
        rq.CorrelationResult,
    ),
    Component.VAR_ENGINE: EngineMethods(
        VaREngine,
        "calculate_var_sync",
        "calculate_var",
        "var_batch",
        "simulate_losses",
        rq.VaRRequest,
        rq.VaRResult,
        ("var_from_losses",),
    ),
    Component.HEDGE_CALCULATOR: EngineMethods(
        HedgeEngine,
        "calculate_hedge_sync",
        "calculate_hedge",
        "hedge_batch",
        "simulate_hedged_pnl",
        rq.HedgeRequest,
        rq.HedgeResult,
    ),
}
