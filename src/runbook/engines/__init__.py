"""Reference engines, legacy and candidate, for the five components, with their protocols.

Legacy: ``DriftRiskEngine`` (market data, performance, correlation, VaR) and ``DriftHedgingEngine``.
Candidates: ``MarketDataProvider``, ``PerformanceAnalyzer``, ``CorrelationAnalyzer``,
``VaRCalculationEngine``, ``HedgeRequirementsCalculator``. Conventions: ``engines.conventions``.
"""

from runbook.engines.conventions import CONVENTIONS, Conventions
from runbook.engines.correlation import CorrelationAnalyzer
from runbook.engines.hedging import HedgeRequirementsCalculator
from runbook.engines.legacy import DriftHedgingEngine, DriftRiskEngine
from runbook.engines.market_data import MarketDataProvider
from runbook.engines.performance import PerformanceAnalyzer
from runbook.engines.registry import EnginePair, import_engine, list_faults, load_pair, pair_of
from runbook.engines.requests import (
    CorrelationRequest,
    CorrelationResult,
    HedgeRequest,
    HedgeResult,
    MarketDataRequest,
    MarketDataResult,
    OptionBook,
    PerformanceRequest,
    PerformanceResult,
    VaRMethod,
    VaRRequest,
    VaRResult,
)
from runbook.engines.var import VaRCalculationEngine

__all__ = [
    "CONVENTIONS",
    "Conventions",
    "CorrelationAnalyzer",
    "CorrelationRequest",
    "CorrelationResult",
    "DriftHedgingEngine",
    "DriftRiskEngine",
    "EnginePair",
    "HedgeRequest",
    "HedgeRequirementsCalculator",
    "HedgeResult",
    "MarketDataProvider",
    "MarketDataRequest",
    "MarketDataResult",
    "OptionBook",
    "PerformanceAnalyzer",
    "PerformanceRequest",
    "PerformanceResult",
    "VaRCalculationEngine",
    "VaRMethod",
    "VaRRequest",
    "VaRResult",
    "import_engine",
    "list_faults",
    "load_pair",
    "pair_of",
]
