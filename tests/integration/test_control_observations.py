"""ObservationStore on SQLite and PostgreSQL: bulk write, windowed reads, counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runbook.control import ObservationStore, Store
from runbook.domain.observation import ErrorKind, Observation, Route


@pytest.fixture
def observations(database_url: str) -> Iterator[ObservationStore]:
    store = Store.from_url(database_url)
    yield ObservationStore(store)
    store.dispose()


def _obs(i: int, *, component: str = "var_engine", mode: str = "shadow") -> Observation:
    error = ErrorKind.TIMEOUT if i % 10 == 0 else ErrorKind.NONE
    return Observation(
        component=component,
        mode=mode,
        route=Route.CANDIDATE if i % 2 else Route.LEGACY,
        routing_key=f"book-{i % 7}",
        at=1_700_000_000.0 + i * 0.25,
        legacy_latency_us=100.0 + i,
        candidate_latency_us=None if error is ErrorKind.TIMEOUT else 90.5 + i,
        error_kind=error,
        abs_difference=None if error is ErrorKind.TIMEOUT else i * 1e-9,
        rel_difference=None if error is ErrorKind.TIMEOUT else i * 1e-12,
        legacy_digest=f"{i:064x}",
        candidate_digest=f"{i + 1:064x}",
        memory_bytes=1_048_576 + i,
        epoch=3,
    )


def test_batch_round_trips_exactly(observations: ObservationStore) -> None:
    """Every field written comes back equal, oldest first."""
    batch = [_obs(i) for i in range(500)]
    assert observations.write_batch(batch) == 500
    assert observations.window("var_engine", since=0.0) == batch


def test_empty_batch_writes_nothing(observations: ObservationStore) -> None:
    """An empty batch returns 0 and leaves the table empty."""
    assert observations.write_batch([]) == 0
    assert observations.count("var_engine") == 0


def test_window_is_half_open_and_filters(observations: ObservationStore) -> None:
    """window keeps since <= at < until, one component, and one mode when asked."""
    batch = [_obs(i) for i in range(40)] + [_obs(i, mode="canary") for i in range(40, 60)]
    observations.write_batch(batch + [_obs(i, component="hedge_calculator") for i in range(10)])
    since, until = batch[10].at, batch[20].at
    assert observations.window("var_engine", since=since, until=until) == batch[10:20]
    assert observations.window("var_engine", since=0.0, mode="canary") == batch[40:]
    assert observations.window("var_engine", since=0.0, limit=3) == batch[:3]
    assert len(observations.window("hedge_calculator", since=0.0)) == 10


def test_count_matches_filters(observations: ObservationStore) -> None:
    """count agrees with the rows written for each filter (timeouts are every tenth call)."""
    batch = [_obs(i) for i in range(100)]
    observations.write_batch(batch[:60])
    observations.write_batch(batch[60:])
    assert observations.count("var_engine") == 100
    assert observations.count("var_engine", error_kind=ErrorKind.TIMEOUT) == 10
    assert observations.count("var_engine", since=batch[50].at) == 50
    assert observations.count("var_engine", since=batch[50].at, until=batch[60].at, mode="shadow") == 10
    assert observations.count("hedge_calculator") == 0


def test_awkward_values_round_trip(observations: ObservationStore) -> None:
    """Keys with tabs, newlines, backslashes or a literal \\N, and extreme floats, come back unchanged."""
    keys = ["tab\there", "line\nbreak", "back\\slash", "\\N", "quote\"'", "comma,semicolon;", "ünïcode €", ""]
    floats = [0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 1 / 3]
    batch = [
        Observation(
            component="var_engine",
            mode="canary",
            route=Route.CANDIDATE,
            routing_key=key,
            at=1_700_000_000.123456789 + i,
            legacy_latency_us=None,
            candidate_latency_us=floats[i % 5],
            abs_difference=floats[(i + 1) % 5],
            memory_bytes=2**40 + i,
            epoch=2**31 - 1,
        )
        for i, key in enumerate(keys)
    ]
    assert observations.write_batch(batch) == len(batch)
    assert observations.window("var_engine", since=0.0) == batch
