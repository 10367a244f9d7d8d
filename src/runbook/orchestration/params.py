"""Typed flow parameters: the Prefect UI renders them as forms (choices, numbers, descriptions).

Defaults are the ADR's. The ranges are in the parameter schema (the UI's form refuses a value out of
range) and checked again by ``runbook.domain.plans`` and the domain value objects at the start of
each flow, so a bad value fails the run with one message naming it before
anything moves (also for runs started through the API, which skip the form's own checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from runbook.domain.components import ALL_COMPONENTS_ALIAS, AnyComponent, parse_component
from runbook.domain.decisions import GateOutcomePolicy, MonitorPolicy
from runbook.domain.plans import (
    ADR_HISTORICAL_SCENARIOS,
    ADR_MONTE_CARLO_SCENARIOS,
    GateFallback,
    validate_count,
    validate_rate,
    validate_window,
)
from runbook.domain.thresholds import RollbackThresholds

__all__ = [
    "ComponentOrAll",
    "ComponentOrAllComponents",
    "ComponentParam",
    "GateOptions",
    "ObservationOptions",
    "ThresholdOptions",
    "ValidationOptions",
]



def _component_or(alias: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        return value if value == alias else parse_component(value)

    return check


# Components are the catalog's (runbook.toml), checked when the run starts, so a firm's own
# component is accepted by the same forms and an unknown name fails naming the known ones.
if TYPE_CHECKING:
    # What the validator hands a flow: the catalog's component (a Component or a ComponentName).
    ComponentParam = AnyComponent
else:
    ComponentParam = Annotated[
        str,
        AfterValidator(parse_component),
        Field(description="a component of the catalog (runbook.toml; by default the ADR's five)"),
    ]
ComponentOrAll = Annotated[
    str, AfterValidator(_component_or("all")), Field(description="a component of the catalog, or all")
]
ComponentOrAllComponents = Annotated[
    str,
    AfterValidator(_component_or(ALL_COMPONENTS_ALIAS)),
    Field(description="a component of the catalog, or all_components"),
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ValidationOptions(BaseModel):
    """Offline validation sizes (phase 1 and the nightly validation)."""

    model_config = _FROZEN

    historical: int = Field(
        default=ADR_HISTORICAL_SCENARIOS,
        title="Historical scenarios",
        json_schema_extra={"minimum": 1},
        description="historical scenarios run through both engines (ADR: >= 10,000)",
    )
    monte_carlo: int = Field(
        default=ADR_MONTE_CARLO_SCENARIOS,
        title="Monte Carlo scenarios",
        json_schema_extra={"minimum": 1},
        description="Monte Carlo scenarios, common random numbers (ADR: >= 100,000)",
    )
    seed: int = Field(
        default=0,
        title="Seed",
        description="seed of the Monte Carlo draws (same seed, same scenarios)",
    )
    market_data: str | None = Field(
        default=None, description="the firm's prices (CSV/Parquet: a date column, one column per asset)"
    )
    portfolios: str | None = Field(
        default=None, description="positions (CSV portfolio,asset,position, or JSON)"
    )
    requests: str | None = Field(
        default=None, description="requests file (JSON Lines or Parquet, one request per row)"
    )

    def sources(self) -> dict[str, Any]:
        """The request sources, as ``validate_offline`` takes them."""
        return {"market_data": self.market_data, "portfolios": self.portfolios, "requests": self.requests}

    def checked(self) -> ValidationOptions:
        """Self, or BadParameter naming the first count that is not a positive integer."""
        validate_count("validation.historical", self.historical)
        validate_count("validation.monte_carlo", self.monte_carlo)
        return self


class ObservationOptions(BaseModel):
    """How long to watch replayed or production traffic at each step."""

    model_config = _FROZEN

    window_s: float = Field(
        default=300.0,
        title="Observation window (s)",
        json_schema_extra={"exclusiveMinimum": 0},
        description="seconds of traffic per observation window (the ADR's week per step, in seconds)",
    )
    rate_per_s: float = Field(
        default=200.0,
        title="Replay rate (calls/s)",
        json_schema_extra={"exclusiveMinimum": 0},
        description="replayed calls per second during a window",
    )
    max_extensions: int = Field(
        default=2,
        title="Extra windows",
        json_schema_extra={"minimum": 0, "maximum": 20},
        description="extra windows when the monitor has too few observations to decide (HOLD)",
    )
    replay: bool = Field(
        default=True,
        title="Replay bundled traffic",
        description="drive the routers with bundled historical requests (off: production traffic only)",
    )

    def checked(self) -> ObservationOptions:
        """Self, or BadParameter naming the value out of range."""
        validate_window("observation.window_s", self.window_s)
        validate_rate("observation.rate_per_s", self.rate_per_s)
        validate_count("observation.max_extensions", self.max_extensions, minimum=0)
        return self

    def monitor_policy(self) -> MonitorPolicy:
        return MonitorPolicy(max_extensions=self.max_extensions)


class GateOptions(BaseModel):
    """How gates wait and what a rejection or a timeout does."""

    model_config = _FROZEN

    timeout_s: float = Field(
        default=86_400.0,
        title="Gate timeout (s)",
        json_schema_extra={"exclusiveMinimum": 0},
        description="seconds a gate waits for its approvers; then nothing is promoted",
    )
    poll_interval_s: int = Field(
        default=10,
        title="Poll interval (s)",
        json_schema_extra={"minimum": 1, "maximum": 3600},
        description="seconds between the paused run's checks for an answer",
    )
    on_reject: GateFallback = Field(
        default=GateFallback.ROLLBACK,
        title="On reject",
        description="rollback: back to legacy at once; hold: stay where it is",
    )
    on_timeout: GateFallback = Field(
        default=GateFallback.HOLD,
        title="On timeout",
        description="hold: stay in the last safe state; rollback: back to legacy",
    )

    def checked(self) -> GateOptions:
        """Self, or BadParameter naming the value out of range."""
        validate_window("gate.timeout_s", self.timeout_s)
        validate_count("gate.poll_interval_s", self.poll_interval_s)
        return self

    def outcome_policy(self) -> GateOutcomePolicy:
        return GateOutcomePolicy(on_reject=self.on_reject, on_timeout=self.on_timeout)


class ThresholdOptions(BaseModel):
    """ADR-0011's automatic rollback triggers (section 2.3 and 3.3)."""

    model_config = _FROZEN

    max_error_rate: float = Field(
        default=0.001,
        title="Max calculation error rate",
        json_schema_extra={"minimum": 0, "maximum": 1},
        description="calculation errors per candidate call (ADR: 0.1%)",
    )
    max_latency_ratio: float = Field(
        default=1.20,
        title="Max latency ratio (new / legacy)",
        json_schema_extra={"minimum": 1, "maximum": 100},
        description="candidate median latency / legacy p50 (ADR: 20% slower)",
    )
    max_memory_ratio: float = Field(
        default=1.50,
        title="Max memory ratio (new / legacy)",
        json_schema_extra={"minimum": 1, "maximum": 100},
        description="candidate peak memory / legacy peak (ADR: 50% more)",
    )
    min_hedge_effectiveness_ratio: float = Field(
        default=0.95,
        title="Min hedge effectiveness ratio",
        json_schema_extra={"minimum": 0, "maximum": 1},
        description="hedge effectiveness new / baseline (ADR: 5% degradation)",
    )
    max_mismatch_rate: float = Field(
        default=0.001,
        title="Max shadow mismatch rate",
        json_schema_extra={"minimum": 0, "maximum": 1},
        description="shadow comparisons outside tolerance / comparisons",
    )
    min_observations: int = Field(
        default=200,
        title="Min observations",
        json_schema_extra={"minimum": 1},
        description="calls needed before a rate can pass",
    )
    confidence: float = Field(
        default=0.99,
        title="Confidence",
        json_schema_extra={"minimum": 0.5, "maximum": 1},
        description="one-sided confidence of the count-based tests",
    )
    min_latency_excess_us: float = Field(
        default=50.0,
        title="Min latency excess (us)",
        json_schema_extra={"minimum": 0},
        description="microseconds over legacy p50 a call must also exceed to count as slower "
        "(cold-call noise floor; ADR budget: <10 ms additional latency)",
    )

    def to_domain(self) -> RollbackThresholds:
        """The domain value; BadParameter names a threshold out of range."""
        return RollbackThresholds(**self.model_dump())
