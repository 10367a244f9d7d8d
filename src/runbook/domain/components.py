"""Component names: the ADR's five (``Component``, ADR-0011 order, lowest risk first) and any
component the catalog (``runbook.domain.catalog``) declares."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from runbook.domain.catalog import component_names, entry_of
from runbook.errors import BadParameter

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


class ComponentName(str):
    """A catalog component's name: a ``str`` with ``.value``, as the ``Component`` members have."""

    __slots__ = ()

    @property
    def value(self) -> str:
        return str.__str__(self)


AnyComponent = Component | ComponentName


def parse_component(name: str) -> AnyComponent:
    """The catalog's component called ``name`` (a ``Component`` for the ADR's five, else a
    ``ComponentName``), or ``UnknownComponent`` naming the known ones."""
    entry_of(str(name))
    try:
        return Component(str(name))
    except ValueError:
        return ComponentName(str(name))


def catalog_components() -> list[AnyComponent]:
    """Every component of the catalog in force, in catalog order (the ADR's five first)."""
    return [parse_component(name) for name in component_names()]


def is_critical(component: str) -> bool:
    """True for critical-tier components (the ADR's VaR and hedging; a catalog's ``tier``)."""
    return entry_of(str(component)).critical


def bundled_component(name: str) -> Component:
    """``name`` as one of the ADR's five (BadParameter for a catalog component: the shipped
    batch machinery knows the five only; catalog components validate through their callables)."""
    try:
        return Component(str(parse_component(name)))
    except ValueError:
        raise BadParameter(
            f"{name} is a catalog component: it has no shipped batch engines; validate it through its "
            f"single-request callables (runbook validate {name})"
        ) from None


def bundled(component: str) -> Component | None:
    """``component`` as one of the ADR's five, or None for a catalog component."""
    try:
        return Component(str(component))
    except ValueError:
        return None
