"""A component's routing state as stored and as cached by routers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runbook.domain.modes import Mode
from runbook.errors import InvalidTrafficFraction


@dataclass(frozen=True, slots=True)
class TrafficSplit:
    """A canary share: ``fraction`` in the open interval (0, 1) of routing keys go to the candidate."""

    fraction: float

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise InvalidTrafficFraction(
                f"traffic fraction {self.fraction!r} is outside (0, 1) "
                f"(percent {self.fraction * 100:g} outside (0, 100))"
            )

    @classmethod
    def from_percent(cls, percent: float) -> TrafficSplit:
        """Build from a percentage; ``InvalidTrafficFraction`` names the value if not in (0, 100)."""
        if not 0.0 < percent < 100.0:
            raise InvalidTrafficFraction(
                f"traffic percent {percent!r} is outside the open interval (0, 100); "
                "use 'promote' for 100% and 'rollback' for 0%"
            )
        return cls(percent / 100.0)

    @property
    def percent(self) -> float:
        return self.fraction * 100.0


@dataclass(frozen=True, slots=True)
class ComponentState:
    """One row of ``component_state``: where a component's calls go, at which epoch.

    ``traffic_fraction`` is the candidate's share in [0, 1]: 0 for legacy, shadow, rolled_back;
    f for canary; 1 for full and retired. ``epoch`` increments on every change.
    """

    component: str
    mode: Mode
    traffic_fraction: float
    epoch: int
    updated_at: datetime | None = None
    updated_by: str = "system"
    reason: str = ""

    @property
    def traffic_percent(self) -> float:
        return self.traffic_fraction * 100.0

    @classmethod
    def initial(cls, component: str) -> ComponentState:
        """The state of a component never touched: legacy at epoch 0."""
        return cls(component=component, mode=Mode.LEGACY, traffic_fraction=0.0, epoch=0)
