"""Load a component's legacy and candidate engines: shipped, faulted, or a user's by import path.

``engines_config`` maps a component to ``{"legacy": "pkg.mod:Attr", "candidate": "pkg.mod:Attr"}``
(Settings.engines). ``Attr`` may be an engine object, a class or a zero-argument factory. Every
engine is checked against the component's protocol when loaded, so a wrong path or signature
fails with ``BadEngine`` before anything runs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook.domain.catalog import entry_of
from runbook.domain.components import AnyComponent, Component, bundled_component, parse_component
from runbook.engines.faults import FAULTS, list_faults
from runbook.engines.protocols import ENGINE_METHODS, EngineMethods
from runbook.errors import BadEngine, BadParameter

__all__ = ["DEFAULT_PATHS", "EnginePair", "import_engine", "list_faults", "load_pair", "pair_of"]

_LEGACY_RISK = "runbook.engines.legacy:DriftRiskEngine"
DEFAULT_PATHS: dict[str, dict[str, str]] = {
    Component.MARKET_DATA_PROVIDER: {
        "legacy": _LEGACY_RISK,
        "candidate": "runbook.engines.market_data:MarketDataProvider",
    },
    Component.PERFORMANCE_ANALYZER: {
        "legacy": _LEGACY_RISK,
        "candidate": "runbook.engines.performance:PerformanceAnalyzer",
    },
    Component.CORRELATION_ANALYZER: {
        "legacy": _LEGACY_RISK,
        "candidate": "runbook.engines.correlation:CorrelationAnalyzer",
    },
    Component.VAR_ENGINE: {"legacy": _LEGACY_RISK, "candidate": "runbook.engines.var:VaRCalculationEngine"},
    Component.HEDGE_CALCULATOR: {
        "legacy": "runbook.engines.legacy_hedging:DriftHedgingEngine",
        "candidate": "runbook.engines.hedging:HedgeRequirementsCalculator",
    },
}


@dataclass(frozen=True, slots=True)
class EnginePair:
    """A component's two engines, with single-request callables for routers.

    ``call_legacy(request)`` / ``call_candidate(request)`` compute one request synchronously and
    return the component's frozen result dataclass; ``acall_*`` are the async twins.
    """

    component: AnyComponent
    legacy: Any
    candidate: Any
    legacy_path: str
    candidate_path: str
    fault: str | None = None
    call_legacy: Callable[[Any], Any] = field(init=False, repr=False, compare=False)
    call_candidate: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        methods = self.methods
        object.__setattr__(self, "call_legacy", getattr(self.legacy, methods.single))
        object.__setattr__(self, "call_candidate", getattr(self.candidate, methods.single))

    @property
    def methods(self) -> EngineMethods:
        """The component's protocol method names."""
        return ENGINE_METHODS[self.component]

    async def acall_legacy(self, request: Any) -> Any:
        """Async single request to the legacy engine."""
        return await getattr(self.legacy, self.methods.single_async)(request)

    async def acall_candidate(self, request: Any) -> Any:
        """Async single request to the candidate engine."""
        return await getattr(self.candidate, self.methods.single_async)(request)

    def describe(self) -> dict[str, str | None]:
        """Which engines these are, for reports."""
        return {"legacy": self.legacy_path, "candidate": self.candidate_path, "fault": self.fault}


def import_engine(path: str, component: Component | str) -> Any:
    """The engine at ``module:attribute`` built and checked against ``component``'s protocol."""
    component = bundled_component(str(component))
    module_name, sep, attribute = str(path).partition(":")
    if not sep or not module_name or not attribute:
        raise BadEngine(f"engine path {path!r} must look like 'package.module:Attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BadEngine(f"engine path {path!r}: cannot import module {module_name!r} ({exc})") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise BadEngine(f"engine path {path!r}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    engine = _build(path, target, ENGINE_METHODS[component])
    _check(path, engine, component)
    return engine


def _build(path: str, target: Any, methods: EngineMethods) -> Any:
    """Classes are instantiated, engine objects used as they are, other callables called as factories."""
    is_engine = all(callable(getattr(target, name, None)) for name in methods.required)
    if (is_engine and not inspect.isclass(target)) or not callable(target):
        return target
    try:
        return target()
    except TypeError as exc:
        raise BadEngine(f"engine path {path!r}: cannot build the engine without arguments ({exc})") from None


def _check(path: str, engine: Any, component: str) -> None:
    methods = ENGINE_METHODS[component]
    missing = [name for name in methods.required if not callable(getattr(engine, name, None))]
    if missing:
        raise BadEngine(
            f"engine {path!r} does not fit the {component} protocol "
            f"({methods.protocol.__name__}): missing {', '.join(missing)}"
        )
    if not inspect.iscoroutinefunction(getattr(engine, methods.single_async)):
        raise BadEngine(f"engine {path!r}: {methods.single_async} must be 'async def'")


def load_pair(
    component: Component | str,
    *,
    engines_config: Mapping[str, Mapping[str, str]] | None = None,
    fault: str | None = None,
) -> EnginePair:
    """The legacy and candidate engines of ``component`` (a faulted candidate when ``fault`` is named)."""
    component = parse_component(str(component))
    if not entry_of(component).bundled:
        if fault is not None:
            raise BadParameter(f"faults exist for the shipped candidates only, not for {component}")
        from runbook.engines.catalog_pair import catalog_pair

        return catalog_pair(component)  # type: ignore[return-value]
    component = bundled_component(str(component))
    configured = dict((engines_config or {}).get(component.value, {}))
    unknown = set(configured) - {"legacy", "candidate"}
    if unknown:
        raise BadEngine(
            f"engines config for {component.value} has unknown keys {sorted(unknown)}; "
            "allowed: legacy, candidate"
        )
    paths = DEFAULT_PATHS[component] | configured
    legacy = import_engine(paths["legacy"], component)
    if fault is None:
        return EnginePair(
            component,
            legacy,
            import_engine(paths["candidate"], component),
            paths["legacy"],
            paths["candidate"],
        )
    return _faulted_pair(component, legacy, paths, fault)


def _faulted_pair(component: AnyComponent, legacy: Any, paths: dict[str, str], fault: str) -> EnginePair:
    faults = FAULTS[component]
    if fault not in faults:
        allowed = ", ".join(faults) or "none"
        raise BadParameter(f"unknown fault {fault!r} for {component.value}; allowed: {allowed}")
    if paths["candidate"] != DEFAULT_PATHS[component]["candidate"]:
        raise BadParameter("faults are injected into the shipped candidate; do not combine with --candidate")
    candidate = faults[fault]()
    _check(f"fault {fault}", candidate, component)
    return EnginePair(
        component, legacy, candidate, paths["legacy"], f"{paths['candidate']}+fault:{fault}", fault
    )


def pair_of(component: Component | str, legacy: Any, candidate: Any) -> EnginePair:
    """An EnginePair of two engine objects already built (checked against the protocol)."""
    component = bundled_component(str(component))
    names = []
    for engine in (legacy, candidate):
        name = f"{type(engine).__module__}:{type(engine).__qualname__}"
        _check(name, engine, component)
        names.append(name)
    return EnginePair(component, legacy, candidate, names[0], names[1])
