"""Pure domain: components, modes and their state machine, thresholds, observations, gates."""

from runbook.domain.components import (
    ALL_COMPONENTS_ALIAS,
    COMPONENTS,
    Component,
    ComponentSpec,
    parse_component,
)
from runbook.domain.modes import Mode, allowed_moves, check_transition
from runbook.domain.observation import ErrorKind, Observation, Route
from runbook.domain.state import ComponentState, TrafficSplit
from runbook.domain.thresholds import RollbackThresholds

__all__ = [
    "ALL_COMPONENTS_ALIAS",
    "COMPONENTS",
    "Component",
    "ComponentSpec",
    "ComponentState",
    "ErrorKind",
    "Mode",
    "Observation",
    "RollbackThresholds",
    "Route",
    "TrafficSplit",
    "allowed_moves",
    "check_transition",
    "parse_component",
]
