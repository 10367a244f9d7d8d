"""The catalog of migratable components, in ADR-0011 order (lowest risk first)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from runbook.errors import UnknownComponent

ALL_COMPONENTS_ALIAS = "all_components"


class Component(StrEnum):
    """One migratable unit; the value is the name used everywhere (CLI, database, Prefect)."""

    MARKET_DATA_PROVIDER = "market_data_provider"
    PERFORMANCE_ANALYZER = "performance_analyzer"
    CORRELATION_ANALYZER = "correlation_analyzer"
    VAR_ENGINE = "var_engine"
    HEDGE_CALCULATOR = "hedge_calculator"


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """What the runbook knows about a component: its risk tier and its two implementations."""

    component: Component
    critical: bool
    legacy_name: str
    candidate_name: str


COMPONENTS: dict[Component, ComponentSpec] = {
    Component.MARKET_DATA_PROVIDER: ComponentSpec(
        Component.MARKET_DATA_PROVIDER, False, "DriftRiskEngine", "MarketDataProvider"
    ),
    Component.PERFORMANCE_ANALYZER: ComponentSpec(
        Component.PERFORMANCE_ANALYZER, False, "DriftRiskEngine", "PerformanceAnalyzer"
    ),
    Component.CORRELATION_ANALYZER: ComponentSpec(
        Component.CORRELATION_ANALYZER, False, "DriftRiskEngine", "CorrelationAnalyzer"
    ),
    Component.VAR_ENGINE: ComponentSpec(
        Component.VAR_ENGINE, True, "DriftRiskEngine", "VaRCalculationEngine"
    ),
    Component.HEDGE_CALCULATOR: ComponentSpec(
        Component.HEDGE_CALCULATOR, True, "DriftHedgingEngine", "HedgeRequirementsCalculator"
    ),
}


def parse_component(name: str) -> Component:
    """The component called ``name``, or ``UnknownComponent`` naming the allowed values."""
    try:
        return Component(name)
    except ValueError:
        allowed = ", ".join(c.value for c in Component)
        raise UnknownComponent(f"unknown component {name!r}; allowed: {allowed}") from None


def is_critical(component: Component) -> bool:
    """True for the components ADR-0011 phase 3 treats as critical (VaR and hedging)."""
    return COMPONENTS[component].critical
