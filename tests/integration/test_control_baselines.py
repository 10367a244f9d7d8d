"""BaselineStore on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from runbook.control import Baseline, BaselineStore, Store
from runbook.errors import UnknownComponent


@pytest.fixture
def baselines(database_url: str) -> Iterator[BaselineStore]:
    store = Store.from_url(database_url)
    yield BaselineStore(store)
    store.dispose()


def test_baseline_round_trips_and_is_replaced(baselines: BaselineStore) -> None:
    """A recorded baseline reads back equal; recording again replaces it."""
    first = Baseline(
        120.5, 480.0, 52_428_800, 0.83, datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "bench"
    )
    baselines.record("hedge_calculator", first)
    assert baselines.get("hedge_calculator") == first
    second = Baseline(110.0, 400.0, 50_000_000, None, datetime(2025, 2, 1, tzinfo=UTC), "readiness run 7")
    baselines.record("hedge_calculator", second)
    assert baselines.get("hedge_calculator") == second
    assert baselines.all() == {"hedge_calculator": second}


def test_missing_and_unknown_components(baselines: BaselineStore) -> None:
    """No baseline yet gives None; a name outside the catalog is refused."""
    assert baselines.get("var_engine") is None
    with pytest.raises(UnknownComponent):
        baselines.get("risk_engine")
