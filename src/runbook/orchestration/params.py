"""Typed flow parameters: the Prefect UI renders them as forms (choices, numbers, descriptions).

Defaults are the ADR's. The ranges are in the parameter schema (the UI's form refuses a value out of
range) and checked again by ``runbook.domain.plans`` and the domain value objects at the start of
each flow, so a bad value fails the run with one message naming it before
anything moves (also for runs started through the API, which skip the form's own checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema

from runbook.domain.components import ALL_COMPONENTS_ALIAS, AnyComponent, is_critical, parse_component
from runbook.domain.decisions import GateOutcomePolicy, MonitorPolicy
from runbook.domain.gates import MAX_ACTOR_CHARS
from runbook.domain.plans import (
    ADR_HISTORICAL_SCENARIOS,
    ADR_MONTE_CARLO_SCENARIOS,
    GateFallback,
    Phase,
    default_steps,
    validate_count,
    validate_rate,
    validate_window,
)
from runbook.domain.thresholds import RollbackThresholds

__all__ = [
    "CanaryComponent",
    "CanarySteps",
    "ComponentOrAll",
    "ComponentOrAllComponents",
    "ComponentParam",
    "CriticalComponent",
    "CriticalSteps",
    "DemoFault",
    "GateOptions",
    "GateParam",
    "Initiator",
    "LockWait",
    "ObservationOptions",
    "ObservationParam",
    "StartTicket",
    "ThresholdOptions",
    "ThresholdParam",
    "ValidationOptions",
    "ValidationParam",
    "phase_steps_default",
]



def _component_or(alias: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        return value if value == alias else parse_component(value)

    return check


@dataclass(frozen=True, slots=True)
class _CatalogChoices:
    """The form's choices: the catalog's components (of one traffic phase's tier), read when the
    schema is built (``runbook up`` builds it when it serves the deployments)."""

    phase: Phase | None = None
    extra: tuple[str, ...] = ()  # choices beside the components ("all")

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        names = _catalog_names(self.phase)
        if names:
            schema["enum"] = [*names, *self.extra]
        return schema


def _catalog_names(phase: Phase | None) -> tuple[str, ...]:
    """The catalog's components, only those whose traffic phase is ``phase`` when given; none when the
    catalog cannot be read (the run's own check then names the problem)."""
    from runbook.domain.catalog import component_names

    try:
        names = component_names()
        if phase is None:
            return names
        return tuple(n for n in names if is_critical(n) == (phase is Phase.CRITICAL))
    except Exception:  # noqa: BLE001 - a broken catalog leaves free text; the run refuses it naming why
        return ()


def phase_steps_default(phase: Phase) -> list[float] | None:
    """The traffic steps every component of ``phase``'s tier shares (the form's default), or None
    when they differ (var_engine 5, 25, 100 and hedge_calculator 10, 50): each then takes its own."""
    steps = set(_steps_by_component(phase).values())
    return list(steps.pop()) if len(steps) == 1 else None


def _steps_by_component(phase: Phase) -> dict[str, tuple[float, ...]]:
    try:
        return {name: default_steps(parse_component(name)) for name in _catalog_names(phase)}
    except Exception:  # noqa: BLE001 - a broken catalog: no default; the run refuses it naming why
        return {}


def _steps_schema(phase: Phase) -> dict[str, Any]:
    """The steps field of ``phase``'s form: the shared default, else each component's steps named."""
    shared = phase_steps_default(phase)
    if shared is not None:
        return {"default": shared}
    each = "; ".join(f"{name} {', '.join(f'{s:g}' for s in steps)}"
                     for name, steps in _steps_by_component(phase).items())
    return {"description": "candidate traffic percent, strictly increasing in (0, 100]; empty: the "
                           f"component's own ({each})" if each else "the component's own when empty"}


def _titled(title: str, **extra: Any) -> Any:
    """A human title (Prefect titles a parameter with its name otherwise) and any schema keys."""
    return Field(json_schema_extra={"title": title, **extra})


# Components are the catalog's (runbook.toml), checked when the run starts, so a firm's own
# component is accepted by the same forms and an unknown name fails naming the known ones. The
# form offers the catalog's names as choices; canary and critical offer only their tier's.
if TYPE_CHECKING:
    # What the validator hands a flow: the catalog's component (a Component or a ComponentName).
    ComponentParam = AnyComponent
    CanaryComponent = AnyComponent
    CriticalComponent = AnyComponent
else:
    ComponentParam = Annotated[
        str,
        AfterValidator(parse_component),
        _CatalogChoices(),
        _titled("Component"),
        Field(description="a component of the catalog (runbook.toml; by default the ADR's five)"),
    ]
    CanaryComponent = Annotated[
        str, AfterValidator(parse_component), _CatalogChoices(Phase.CANARY),
        _titled("Component (standard tier)"),
    ]
    CriticalComponent = Annotated[
        str, AfterValidator(parse_component), _CatalogChoices(Phase.CRITICAL),
        _titled("Component (critical tier)"),
    ]

Initiator = Annotated[
    str, Field(min_length=1, max_length=MAX_ACTOR_CHARS), _titled("Started by (your user id)")
]
LockWait = Annotated[float, Field(ge=0), _titled("Wait for a busy component (s)")]
# Set by `runbook start --sign-with` and the Slack command; not a field of the forms.
StartTicket = SkipJsonSchema[str | None]
# Demos and drills only (`runbook demo --inject-fault`): never offered on the forms.
DemoFault = SkipJsonSchema[str | None]
ComponentOrAll = Annotated[
    str, AfterValidator(_component_or("all")), _CatalogChoices(extra=("all",)), _titled("Component"),
    Field(description="a component of the catalog, or all"),
]
ComponentOrAllComponents = Annotated[
    str,
    AfterValidator(_component_or(ALL_COMPONENTS_ALIAS)),
    _CatalogChoices(extra=(ALL_COMPONENTS_ALIAS,)),
    _titled("Component"),
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


# The option groups as flow parameters, with human titles.
ValidationParam = Annotated[ValidationOptions, _titled("Offline validation")]
ObservationParam = Annotated[ObservationOptions, _titled("Observation windows")]
GateParam = Annotated[GateOptions, _titled("Gates")]
ThresholdParam = Annotated[ThresholdOptions, _titled("Rollback thresholds (ADR-0011)")]

# Traffic steps; the form starts from the steps every component of the phase's tier shares
# (canary: the ADR's 5, 25, 50, 100), else empty: each component then takes its own from the catalog.
CanarySteps = Annotated[
    list[float] | None,
    _titled("Traffic steps (%)", **_steps_schema(Phase.CANARY)),
]
CriticalSteps = Annotated[
    list[float] | None,
    _titled("Traffic steps (%)", **_steps_schema(Phase.CRITICAL)),
]
