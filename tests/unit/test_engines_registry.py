"""Engine registry: shipped pairs, faults by name, user engines by import path, clear errors."""

from __future__ import annotations

import sys
import textwrap

import pytest

from runbook.engines.registry import import_engine, list_faults, load_pair
from runbook.engines.requests import VaRResult
from runbook.errors import BadEngine, BadParameter, UnknownComponent
from runbook.scenarios.replay import replay_requests


def test_list_faults_covers_every_component():
    """Every component has at least one fault; the critical ones have the ADR's defects."""
    faults = list_faults()
    assert {component for component, _ in faults} == {
        "market_data_provider",
        "performance_analyzer",
        "correlation_analyzer",
        "var_engine",
        "hedge_calculator",
    }
    for expected in ("quantile_convention", "small_bias", "rare_sign_error", "slow", "memory_hungry"):
        assert ("var_engine", expected) in faults
    assert ("hedge_calculator", "hedge_ratio_error_5pct") in faults


def test_pair_calls_return_frozen_results():
    """call_legacy / call_candidate compute one request and return the frozen result dataclass."""
    pair = load_pair("var_engine")
    _, request = next(replay_requests("var_engine", count=1, seed=0))
    old, new = pair.call_legacy(request), pair.call_candidate(request)
    assert isinstance(old, VaRResult)
    assert new.var == pytest.approx(old.var, rel=1e-9)
    with pytest.raises(AttributeError):
        old.var = 0.0  # type: ignore[misc]


async def test_pair_async_calls():
    """acall_* await the engines' async entry points."""
    pair = load_pair("hedge_calculator")
    _, request = next(replay_requests("hedge_calculator", count=1, seed=0))
    assert await pair.acall_candidate(request) == pair.call_candidate(request)


def test_fault_is_injected_into_the_candidate_only():
    """A faulted pair keeps the legacy engine and names the fault."""
    pair = load_pair("var_engine", fault="small_bias")
    assert pair.fault == "small_bias"
    assert type(pair.legacy).__name__ == "DriftRiskEngine"
    assert type(pair.candidate).__name__ == "SmallBiasVaR"


def test_unknown_fault_names_the_allowed_ones():
    """An unknown fault raises BadParameter listing the component's faults."""
    with pytest.raises(BadParameter, match="allowed: hedge_ratio_error_5pct"):
        load_pair("hedge_calculator", fault="typo")


def test_unknown_component():
    """An unknown component raises UnknownComponent naming the allowed values."""
    with pytest.raises(UnknownComponent, match="var_engine"):
        load_pair("risk_engine")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_colon_here", "must look like"),
        ("runbook.nope:Engine", "cannot import module"),
        ("runbook.engines.var:Missing", "no attribute"),
        ("runbook.engines.hedging:HedgeRequirementsCalculator", "missing calculate_var_sync"),
    ],
)
def test_bad_engine_paths(path, message):
    """Bad paths and engines of the wrong protocol raise BadEngine naming the problem."""
    with pytest.raises(BadEngine, match=message):
        load_pair("var_engine", engines_config={"var_engine": {"candidate": path}})


def test_user_engine_by_import_path(tmp_path, monkeypatch):
    """A user's factory in their own module is loaded, built and called through the pair."""
    module = tmp_path / "user_var_engine.py"
    module.write_text(
        textwrap.dedent("""
        from runbook.engines.var import VaRCalculationEngine

        class Tuned(VaRCalculationEngine):
            pass

        def make():
            return Tuned()
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        pair = load_pair("var_engine", engines_config={"var_engine": {"candidate": "user_var_engine:make"}})
        assert type(pair.candidate).__name__ == "Tuned"
        assert pair.candidate_path == "user_var_engine:make"
    finally:
        sys.modules.pop("user_var_engine", None)


def test_sync_only_async_method_is_refused(tmp_path, monkeypatch):
    """An engine whose async entry point is a plain function does not fit the protocol."""
    (tmp_path / "user_sync_engine.py").write_text(
        textwrap.dedent("""
        from runbook.engines.var import VaRCalculationEngine

        class SyncOnly(VaRCalculationEngine):
            def calculate_var(self, request=None, /, **fields):
                return self.calculate_var_sync(request, **fields)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(BadEngine, match="must be 'async def'"):
            import_engine("user_sync_engine:SyncOnly", "var_engine")
    finally:
        sys.modules.pop("user_sync_engine", None)


def test_faults_cannot_be_combined_with_a_user_candidate():
    """--inject-fault works on the shipped candidate only."""
    config = {"var_engine": {"candidate": "runbook.engines.faults:SmallBiasVaR"}}
    with pytest.raises(BadParameter, match="shipped candidate"):
        load_pair("var_engine", engines_config=config, fault="slow")
