"""DriftRiskEngine: the legacy risk monolith (market data, performance, correlation and VaR).

One class serves four components, as the old system did; the candidates split it up. The code
paths live in mixins only to keep modules small: behaviour is the monolith's.
"""

from __future__ import annotations

from runbook.engines._legacy_analytics import (
    LegacyCorrelationMixin,
    LegacyMarketDataMixin,
    LegacyPerformanceMixin,
)
from runbook.engines._legacy_var import LegacyVaRMixin
from runbook.engines.legacy_hedging import DriftHedgingEngine

__all__ = ["DriftHedgingEngine", "DriftRiskEngine"]


class DriftRiskEngine(LegacyMarketDataMixin, LegacyPerformanceMixin, LegacyCorrelationMixin, LegacyVaRMixin):
    """The legacy risk engine: returns, performance, correlations, VaR / ES."""
