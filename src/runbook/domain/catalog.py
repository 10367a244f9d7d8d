"""The catalog: which components exist, their tier, kind, engines and output tolerances.

A ``runbook.toml`` in the working directory (or the file ``RUNBOOK_CATALOG`` names) declares a
firm's components; without one the bundled catalog is the ADR's five. A firm's catalog adds to
the five (an entry with a bundled name replaces it) unless it sets ``bundled = false``::

    [data]                      # optional defaults for every component
    date_column = "Date"        # the market-data column holding dates (default "date")

    [components.pnl_service]
    tier = "standard"           # or "critical"
    kind = "generic"            # var | hedge | market_data | performance | correlation | generic
    legacy = "firm.pnl:old_pnl"         # the single-request callable production routes, or a
    candidate = "firm.pnl:new_pnl"      # zero-argument factory returning one; sync or async
    batch = "firm.pnl:new_pnl_batch"         # optional acceleration: a callable taking a list of
                                             # requests (keyword dicts), returning their results in
                                             # order; or { legacy = "...", candidate = "..." }
    check = "pnl == pnl and exposure >= 0"   # optional result check
    requests = "pnl_requests.jsonl"          # optional: representative requests (or market_data,
                                             # portfolios for the built-in kinds)
    steps = [5, 25, 50, 100]    # optional canary traffic steps (percent)
    fields = { pnl = { rel = 1e-5, abs = 0.01 } }   # per-field tolerances
    thresholds = { max_latency_ratio = 1.3 }        # RollbackThresholds overrides

The catalog is a deployment fact every process (service, CLI, flow worker) must agree on, so it is
resolved once per process from the same place; ``use_catalog`` pins one (tests, embedding).
Only ``tomllib`` (stdlib) is imported: routers in production services read it too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook.domain.result_check import ResultCheck
from runbook.errors import BadParameter, UnknownComponent

CATALOG_FILE = "runbook.toml"
CATALOG_ENV = "RUNBOOK_CATALOG"
DEFAULT_REL = 1e-5


class Tier(StrEnum):
    """A component's risk tier: critical components need two approvers and phase 3."""

    CRITICAL = "critical"
    STANDARD = "standard"


class Kind(StrEnum):
    """What a component computes; built-in kinds get requests generated from market data."""

    VAR = "var"
    HEDGE = "hedge"
    MARKET_DATA = "market_data"
    PERFORMANCE = "performance"
    CORRELATION = "correlation"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class Tolerance:
    """``|new - old| <= rel * |old| + abs`` on one output field (abs in the field's units)."""

    rel: float = DEFAULT_REL
    abs: float = 0.0

    def __post_init__(self) -> None:
        for name, value in (("rel", self.rel), ("abs", self.abs)):
            if not isinstance(value, int | float) or value < 0:
                raise BadParameter(f"tolerance {name} {value!r} must be a number >= 0")


@dataclass(frozen=True, slots=True)
class ComponentEntry:
    """One component of the catalog (see the module docstring for the TOML keys)."""

    name: str
    tier: Tier = Tier.STANDARD
    kind: Kind = Kind.GENERIC
    legacy: str | None = None
    candidate: str | None = None
    fields: Mapping[str, Tolerance] = field(default_factory=dict)
    check: ResultCheck | None = None
    steps: tuple[float, ...] | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    date_column: str = "date"
    bundled: bool = False
    # Batch callables by role ("legacy" / "candidate"): an acceleration validation uses for every
    # request, with the single-request callables checked beside it.
    batch: Mapping[str, str] = field(default_factory=dict)
    # The component's representative requests (paths resolved against the catalog's folder):
    # replayed by phase flows, baselines and probes, and validated when a run names no other.
    requests: str | None = None
    market_data: str | None = None
    portfolios: str | None = None

    @property
    def critical(self) -> bool:
        return self.tier is Tier.CRITICAL

    def tolerance(self, name: str) -> Tolerance:
        """The tolerance of output field ``name`` (default: relative 1e-5, no absolute slack)."""
        return self.fields.get(name, Tolerance())


@dataclass(frozen=True, slots=True)
class Catalog:
    """Components by name, in declaration order (the bundled five first, in ADR order)."""

    entries: Mapping[str, ComponentEntry]
    path: Path | None = None
    date_column: str = "date"  # ``[data] date_column``: the date column of every price file

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def entry(self, name: str) -> ComponentEntry:
        """The entry called ``name``, or ``UnknownComponent`` naming the known ones."""
        try:
            return self.entries[str(name)]
        except KeyError:
            raise UnknownComponent(
                f"unknown component {str(name)!r}; allowed: {', '.join(self.names)}"
                + (f" (catalog {self.path})" if self.path else "")
            ) from None


_BUNDLED_ROWS = (  # name, tier, kind, legacy, candidate (plain keyword-argument entry points)
    ("market_data_provider", Tier.STANDARD, Kind.MARKET_DATA, "legacy_returns", "candidate_returns"),
    ("performance_analyzer", Tier.STANDARD, Kind.PERFORMANCE, "legacy_performance", "candidate_performance"),
    ("correlation_analyzer", Tier.STANDARD, Kind.CORRELATION, "legacy_correlation", "candidate_correlation"),
    ("var_engine", Tier.CRITICAL, Kind.VAR, "legacy_var", "candidate_var"),
    ("hedge_calculator", Tier.CRITICAL, Kind.HEDGE, "legacy_hedge", "candidate_hedge"),
)
_VAR_FIELDS = {"var": Tolerance(abs=0.01), "es": Tolerance(abs=0.01)}


def bundled_catalog() -> Catalog:
    """The ADR's five components with the shipped engines' plain entry points."""
    return Catalog({row[0]: _bundled_entry(*row) for row in _BUNDLED_ROWS})


def _bundled_entry(name: str, tier: Tier, kind: Kind, legacy: str, candidate: str) -> ComponentEntry:
    var = kind is Kind.VAR
    return ComponentEntry(
        name,
        tier,
        kind,
        f"runbook.engines.plain:{legacy}",
        f"runbook.engines.plain:{candidate}",
        fields=_VAR_FIELDS if var else {},
        bundled=True,
    )


def discover_path(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The catalog file in force: ``RUNBOOK_CATALOG``, else ``./runbook.toml``, else None (bundled)."""
    environ = os.environ if environ is None else environ
    named = environ.get(CATALOG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise BadParameter(f"{CATALOG_ENV}={named!r} does not name a readable file")
        return path
    local = (cwd or Path.cwd()) / CATALOG_FILE
    return local if local.is_file() else None


_pinned: Catalog | None = None
_cache: dict[Path | None, tuple[float, Catalog]] = {}


def current_catalog() -> Catalog:
    """The catalog in force for this process (pinned, else discovered, reloaded when the file changes)."""
    if _pinned is not None:
        return _pinned
    path = discover_path()
    if path is None:
        return _bundled_once()
    resolved = path.resolve()
    mtime = resolved.stat().st_mtime
    cached = _cache.get(resolved)
    if cached is None or cached[0] != mtime:
        from runbook.domain.catalog_toml import load_catalog

        cached = (mtime, load_catalog(resolved))
        _cache[resolved] = cached
    return cached[1]


def _bundled_once() -> Catalog:
    cached = _cache.get(None)
    if cached is None:
        cached = (0.0, bundled_catalog())
        _cache[None] = cached
    return cached[1]


@contextmanager
def use_catalog(catalog: Catalog | str | Path | None) -> Iterator[Catalog]:
    """Pin ``catalog`` (or the file at a path) for the duration of the block."""
    global _pinned
    from runbook.domain.catalog_toml import load_catalog

    previous = _pinned
    _pinned = catalog if isinstance(catalog, Catalog) else (
        bundled_catalog() if catalog is None else load_catalog(Path(catalog))
    )  # fmt: skip
    try:
        yield _pinned
    finally:
        _pinned = previous


def entry_of(name: str) -> ComponentEntry:
    """The current catalog's entry for ``name`` (``UnknownComponent`` naming the known ones)."""
    return current_catalog().entry(name)


def component_names() -> tuple[str, ...]:
    """Names of the current catalog's components, in order."""
    return current_catalog().names


def parse_table(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a TOML table, or BadParameter naming ``where``."""
    if not isinstance(value, dict):
        raise BadParameter(f"{where} must be a table, got {value!r}")
    return value


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML file, or BadParameter naming the file and the syntax error."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise BadParameter(f"cannot read catalog {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadParameter(f"catalog {str(path)!r} is not valid TOML: {exc}") from None
