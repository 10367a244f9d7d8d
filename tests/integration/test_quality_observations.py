"""The observation suites on real observations: the shipped engines behind a real Router, driven by
requests replayed from the bundled market history, recorded in memory."""

from __future__ import annotations

import pandas as pd
import pytest

from runbook.engines.registry import load_pair
from runbook.quality import run_suite
from runbook.quality.frames import observations_frame
from runbook.runtime import InMemorySink, InMemoryStateSource, ObservationRecorder, Router
from runbook.scenarios.replay import replay_requests

CALLS = 200
TOLERANCE = 1e-5  # ADR-0011's "<0.001%"


def _observe(
    component: str, mode: str, *, fraction: float | None = None, fault: str | None = None
) -> pd.DataFrame:
    """Route CALLS replayed requests through a recording Router and return the observation frame."""
    pair = load_pair(component, fault=fault)
    state = InMemoryStateSource()
    state.set_mode(component, mode, traffic_fraction=fraction)
    sink = InMemorySink()
    recorder = ObservationRecorder(sink)
    router = Router(component, legacy=pair.call_legacy, candidate=pair.call_candidate, state_source=state,
                    recorder=recorder)
    try:
        router.refresh()
        for routing_key, request in replay_requests(component, count=CALLS, seed=5):
            router.call(request, routing_key=routing_key)
        router.flush()
    finally:
        router.close()
        recorder.close()
    return observations_frame(sink.observations)


@pytest.mark.parametrize("component", ["var_engine", "hedge_calculator"])
def test_shadow_observations_of_shipped_engines_pass(component: str) -> None:
    """Shadow-mode observations of the shipped engines pass the shadow suite."""
    frame = _observe(component, "shadow")
    assert len(frame) == CALLS
    result = run_suite("shadow_comparisons", frame)
    assert result.passed, result.markdown()
    assert result.warnings == ()


def test_canary_window_of_shipped_engines_passes() -> None:
    """A 30% canary window of the shipped VaR engines holds both routes and passes."""
    frame = _observe("var_engine", "canary", fraction=0.3)
    assert set(frame["route"]) == {"legacy", "candidate"}
    result = run_suite("canary_window", frame)
    assert result.passed, result.markdown()


def test_biased_candidate_fails_shadow_suite_naming_keys() -> None:
    """The shipped ``small_bias`` candidate (0.01% off) fails the tolerance check on its routing keys."""
    frame = _observe("var_engine", "shadow", fault="small_bias")
    over = frame[frame["rel_difference"].abs() > TOLERANCE]
    assert len(over) > 0
    assert set(over["error_kind"]) == {"mismatch"}  # the router flags them too
    result = run_suite("shadow_comparisons", frame)
    assert not result.passed
    (failure,) = [f for f in result.failures if f.column == "rel_difference"]
    assert failure.unexpected_count == len(over)
    assert set(failure.sample_ids) <= set(over["routing_key"])
