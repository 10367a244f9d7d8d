"""Router in every mode, with sync and async engines, through call() and acall()."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router, routing_point

COMPONENT = "var_engine"
NEVER = 3600.0  # the background poll never fires within a test; tests call refresh()


class Engines:
    """A legacy (2x) and a candidate (2x + 0.5) engine, sync or async, that count their calls."""

    def __init__(self, kind: str) -> None:
        self.calls: dict[str, int] = {"legacy": 0, "candidate": 0}
        if kind == "sync":
            self.legacy, self.candidate = self._legacy_sync, self._candidate_sync
        else:
            self.legacy, self.candidate = self._legacy_async, self._candidate_async

    def _legacy_sync(self, x: float) -> float:
        self.calls["legacy"] += 1
        return 2.0 * x

    def _candidate_sync(self, x: float) -> float:
        self.calls["candidate"] += 1
        return 2.0 * x + 0.5

    async def _legacy_async(self, x: float) -> float:
        await asyncio.sleep(0)
        return self._legacy_sync(x)

    async def _candidate_async(self, x: float) -> float:
        await asyncio.sleep(0)
        return self._candidate_sync(x)


@pytest.fixture(params=["sync", "async"])
def engines(request: pytest.FixtureRequest) -> Engines:
    return Engines(request.param)


@pytest.fixture
def source() -> InMemoryStateSource:
    return InMemoryStateSource()


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


@pytest.fixture
def router(engines: Engines, source: InMemoryStateSource, sink: InMemorySink) -> Iterator[Router]:
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    with Router(
        COMPONENT, legacy=engines.legacy, candidate=engines.candidate, state_source=source,
        recorder=recorder, refresh_interval_s=NEVER,
    ) as router:  # fmt: skip
        yield router
    recorder.close()


async def route(router: Router, api: str, x: float, key: str) -> float:
    if api == "call":
        return await asyncio.to_thread(router.call, x, routing_key=key)
    return await router.acall(x, routing_key=key)


def switch(router: Router, source: InMemoryStateSource, mode: Mode, fraction: float | None = None) -> None:
    source.set_mode(COMPONENT, mode, traffic_fraction=fraction)
    assert router.refresh()
    assert router.serving_mode is mode


def flushed(router: Router, sink: InMemorySink) -> list:
    assert router.flush()
    return sink.observations


APIS = ["call", "acall"]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("mode", [Mode.LEGACY, Mode.ROLLED_BACK])
async def test_legacy_modes_call_old_only(router, engines, source, sink, api, mode):
    """legacy and rolled_back answer with old, never call new, and record nothing."""
    if mode is not Mode.LEGACY:
        switch(router, source, mode)
    assert await route(router, api, 10.0, "book-1") == 20.0
    assert engines.calls == {"legacy": 1, "candidate": 0}
    assert flushed(router, sink) == []


@pytest.mark.parametrize("api", APIS)
async def test_shadow_answers_old_and_records_the_comparison(router, engines, source, sink, api):
    """shadow answers with old; new runs off the path and its difference (0.5 on 20) is a mismatch."""
    switch(router, source, Mode.SHADOW)
    assert await route(router, api, 10.0, "book-1") == 20.0
    [observation] = flushed(router, sink)
    assert engines.calls == {"legacy": 1, "candidate": 1}
    assert observation.route is Route.LEGACY
    assert observation.error_kind is ErrorKind.MISMATCH
    assert observation.abs_difference == pytest.approx(0.5)
    assert observation.rel_difference == pytest.approx(0.5 / 20.0)
    assert observation.legacy_digest != observation.candidate_digest
    assert (observation.mode, observation.routing_key, observation.epoch) == ("shadow", "book-1", 1)


@pytest.mark.parametrize("api", APIS)
async def test_canary_routes_by_stable_point(router, engines, source, sink, api):
    """canary(0.5): keys whose point is below 0.5 get new, the others old; each call is recorded."""
    switch(router, source, Mode.CANARY, 0.5)
    keys = [f"book-{i}" for i in range(40)]
    keys.sort(key=lambda k: routing_point(COMPONENT, k) < 0.5)  # a legacy key first: it teaches legacy's kind
    answers = [await route(router, api, 1.0, key) for key in keys]
    expected = [2.5 if routing_point(COMPONENT, key) < 0.5 else 2.0 for key in keys]
    assert answers == expected
    assert 0 < engines.calls["candidate"] < len(keys)
    routes = [o.route for o in flushed(router, sink)]
    assert routes == [Route.CANDIDATE if a == 2.5 else Route.LEGACY for a in answers]


@pytest.mark.parametrize("api", APIS)
async def test_canary_is_sticky_per_key(router, engines, source, api):
    """The same key takes the same route on every call."""
    switch(router, source, Mode.CANARY, 0.5)
    for key in ("book-1", "book-2", "book-3", "book-4"):
        answers = {await route(router, api, 1.0, key) for _ in range(20)}
        assert len(answers) == 1


@pytest.mark.parametrize("api", APIS)
async def test_full_answers_new(router, engines, source, sink, api):
    """full answers with new once the first call taught the router legacy's answer; every served
    answer is compared with old off the caller's path and its 0.5 difference recorded as a mismatch."""
    switch(router, source, Mode.FULL)
    assert [await route(router, api, 1.0, f"k{i}") for i in range(5)] == [2.0] + [2.5] * 4
    observations = flushed(router, sink)
    assert engines.calls == {"legacy": 5, "candidate": 5}
    assert [o.route for o in observations] == [Route.LEGACY] + [Route.CANDIDATE] * 4
    assert {(o.error_kind, o.abs_difference) for o in observations} == {(ErrorKind.MISMATCH, 0.5)}
    assert (router.stats()["verify_mismatch"], router.stats()["answered_by_legacy_first"]) == (5, 1)


@pytest.mark.parametrize("api", APIS)
async def test_retired_answers_new_only(router, engines, source, api):
    """retired answers with new and never calls old."""
    switch(router, source, Mode.RETIRED)
    assert await route(router, api, 1.0, "book-1") == 2.5
    assert engines.calls == {"legacy": 0, "candidate": 1}


@pytest.mark.parametrize("api", APIS)
async def test_rollback_is_seen_after_refresh(router, engines, source, api):
    """A rollback read from the source sends the next call to old."""
    switch(router, source, Mode.SHADOW)
    switch(router, source, Mode.CANARY, 0.99)
    switch(router, source, Mode.ROLLED_BACK)
    assert await route(router, api, 1.0, "book-1") == 2.0
    assert router.stats()["calls_rolled_back"] == 1


async def test_background_poll_picks_up_a_change(engines, source):
    """Without refresh(), the poller sees a mode change on its own."""
    with Router(
        COMPONENT, legacy=engines.legacy, candidate=engines.candidate, state_source=source,
        refresh_interval_s=0.01,
    ) as router:  # fmt: skip
        source.set_mode(COMPONENT, Mode.FULL)
        for _ in range(500):
            if router.serving_mode is Mode.FULL:
                break
            await asyncio.sleep(0.01)
        assert router.serving_mode is Mode.FULL
        assert router.epoch == 1
