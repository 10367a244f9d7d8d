"""A catalog component's two engines as a pair, for routers, probes, baselines and replays.

Its requests are ``Request`` objects (keyword arguments, see ``runbook.scenarios.requests_file``);
``call_legacy(request)`` passes them to the legacy callable as keywords, as a service's
``Router.call(**kwargs)`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.domain.catalog import ComponentEntry, current_catalog, entry_of
from runbook.engines.callables import EngineCallable, load_callable
from runbook.errors import BadParameter


def _kwargs(request: Any) -> dict[str, Any]:
    return dict(getattr(request, "kwargs", request))


@dataclass(frozen=True, slots=True)
class CatalogPair:
    """Legacy and candidate callables of one catalog component."""

    component: str
    legacy: EngineCallable
    candidate: EngineCallable
    fault: str | None = field(default=None)

    @property
    def legacy_path(self) -> str:
        return self.legacy.path

    @property
    def candidate_path(self) -> str:
        return self.candidate.path

    def call_legacy(self, request: Any) -> Any:
        """One request through the legacy callable."""
        return self.legacy.call(_kwargs(request), None, getattr(request, "args", ()))

    def call_candidate(self, request: Any) -> Any:
        """One request through the candidate callable."""
        return self.candidate.call(_kwargs(request), None, getattr(request, "args", ()))

    async def acall_legacy(self, request: Any) -> Any:
        value = self.legacy.function(**_kwargs(request))
        return await value if self.legacy.is_async else value

    async def acall_candidate(self, request: Any) -> Any:
        value = self.candidate.function(**_kwargs(request))
        return await value if self.candidate.is_async else value

    def describe(self) -> dict[str, str | None]:
        """Which engines these are, for reports."""
        return {"legacy": self.legacy.path, "candidate": self.candidate.path, "fault": None}


def catalog_engines(entry: ComponentEntry) -> tuple[EngineCallable, EngineCallable]:
    """The entry's legacy and candidate callables, imported with the catalog's folder on the path
    (BadEngine naming one that cannot be loaded)."""
    if not (entry.legacy and entry.candidate):
        raise BadParameter(f"{entry.name}: the catalog names no legacy and candidate callables")
    path = current_catalog().path
    folder = path.resolve().parent if path is not None else Path.cwd()
    legacy = load_callable(entry.legacy, role="legacy", component=entry.name, search_dir=folder)
    return legacy, load_callable(entry.candidate, role="candidate", component=entry.name, search_dir=folder)


def catalog_batches(entry: ComponentEntry) -> dict[str, EngineCallable]:
    """The entry's batch callables by role (none when it declares no ``batch``)."""
    path = current_catalog().path
    folder = path.resolve().parent if path is not None else Path.cwd()
    return {role: load_callable(target, role=f"{role} batch", component=entry.name, search_dir=folder)
            for role, target in entry.batch.items()}  # fmt: skip


def catalog_pair(component: str) -> CatalogPair:
    """The catalog entry's engines (BadEngine naming one that cannot be loaded)."""
    legacy, candidate = catalog_engines(entry_of(component))
    return CatalogPair(str(component), legacy, candidate)
