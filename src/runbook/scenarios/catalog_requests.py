"""Requests of a catalog component: from a requests file, or generated from market data.

Sources named by a run win as a whole; otherwise the catalog entry's own ``requests`` /
``market_data`` / ``portfolios``; otherwise, for the built-in kinds (all but ``generic``), the
bundled market history (the report's ``data`` block says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook.domain.catalog import ComponentEntry, Kind
from runbook.errors import BadParameter
from runbook.scenarios.requests_file import Request, read_requests

GENERATED_KINDS = (Kind.VAR, Kind.MARKET_DATA, Kind.HEDGE, Kind.PERFORMANCE, Kind.CORRELATION)


@dataclass(frozen=True, slots=True)
class Sources:
    """Where requests come from: market data (+ portfolios), or a requests file."""

    market_data: str | None = None
    portfolios: str | None = None
    requests: str | None = None

    @property
    def given(self) -> bool:
        return any((self.market_data, self.portfolios, self.requests))

    def or_declared(self, entry: ComponentEntry) -> Sources:
        """These sources if any is given, else the ones the catalog entry declares."""
        return self if self.given else Sources(entry.market_data, entry.portfolios, entry.requests)


def market_data_of(entry: ComponentEntry, path: str | None) -> tuple[Any, dict[str, Any]]:
    """The market history at ``path`` (the entry's date column), or the bundled one; its data block."""
    from runbook.scenarios.loader import load_market_history
    from runbook.scenarios.user_data import bundled_info, load_prices

    if path is None:
        return load_market_history(), bundled_info().to_dict() | {"bundled": True}
    history, info = load_prices(path, date_column=entry.date_column)
    return history, info.to_dict()


def generated_requests(
    entry: ComponentEntry, history: Any, sources: Sources, *, count: int, seed: int
) -> list[Request]:
    """``count`` requests of a built-in kind generated from ``history`` (and the portfolios)."""
    from runbook.scenarios import generated
    from runbook.scenarios.user_data import load_portfolios

    if entry.kind is Kind.MARKET_DATA:
        return generated.market_data_requests(history, count=count, seed=seed)
    if entry.kind is Kind.HEDGE:
        return generated.hedge_requests(history, count=count, seed=seed)
    if entry.kind not in GENERATED_KINDS:
        raise BadParameter(
            f"{entry.name} is of kind {entry.kind.value!r}: give its requests with --requests FILE or the "
            f"catalog's requests = \"FILE\" (requests are generated from market data for kinds: "
            f"{', '.join(GENERATED_KINDS)})"
        )
    books = load_portfolios(sources.portfolios, history.assets)
    build = {Kind.VAR: generated.var_requests, Kind.PERFORMANCE: generated.performance_requests,
             Kind.CORRELATION: generated.correlation_requests}[entry.kind]  # fmt: skip
    return build(history, books, count=count, seed=seed)


def requests_for(entry: ComponentEntry, sources: Sources, *, count: int, seed: int = 0) -> list[Request]:
    """The component's requests: the file's (all of them), else ``count`` generated ones."""
    sources = sources.or_declared(entry)
    if sources.requests:
        return read_requests(sources.requests)
    history, _ = market_data_of(entry, sources.market_data) if entry.kind in GENERATED_KINDS else (None, None)
    return generated_requests(entry, history, sources, count=count, seed=seed)
