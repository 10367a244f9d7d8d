"""Helpers for tests and drills that run the real flows fast: small sizes, short windows, waits.

    from runbook.orchestration.testing import fast_options, wait_for_gate
    shadow(component="var_engine", initiator="carol", **fast_options())
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from runbook.orchestration.params import GateOptions, ObservationOptions, ThresholdOptions, ValidationOptions

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.orchestration.pending import PendingGate

__all__ = ["FAST_THRESHOLDS", "fast_options", "prepare", "wait_for_gate"]

# Limits a one-second window at 1,000 calls/s can decide (see runbook._cli.demo).
FAST_THRESHOLDS = ThresholdOptions(
    max_error_rate=0.02, max_mismatch_rate=0.02, confidence=0.90, min_observations=100, max_latency_ratio=6.0,
)


def fast_options(
    *, window_s: float = 1.5, timeout_s: float = 120.0, extensions: int = 2, validation: bool = True,
    **gate: Any,
) -> dict[str, Any]:
    """Flow keyword arguments for a fast run: 500 + 2,000 scenarios, short windows, 1 s polling."""
    options: dict[str, Any] = {
        "observation": ObservationOptions(window_s=window_s, rate_per_s=1_000.0, max_extensions=extensions),
        "gate": GateOptions(timeout_s=timeout_s, poll_interval_s=1, **gate),
        "thresholds": FAST_THRESHOLDS,
    }
    if validation:
        options["validation"] = ValidationOptions(historical=500, monte_carlo=2_000)
    return options


def wait_for_gate(store: Store, *, timeout_s: float = 180.0, poll_s: float = 0.25) -> PendingGate:
    """The first gate a paused run waits on, once there is one (TimeoutError after ``timeout_s``)."""
    from runbook.orchestration.pending import pending_gates

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        gates = pending_gates(store)
        if gates:
            return gates[0]
        time.sleep(poll_s)
    raise TimeoutError(f"no gate opened within {timeout_s:g} s")


def prepare(store: Store, component: str, *, shadow: bool = True) -> None:
    """What phase 0 and phase 1 leave behind, without running them: a measured legacy baseline
    and (with ``shadow``) the component in shadow mode."""
    from runbook.control.baselines import BaselineStore
    from runbook.control.safety import ProductionSafetyManager
    from runbook.engines.registry import load_pair
    from runbook.monitoring.baseline import measure_legacy_baseline

    baseline = measure_legacy_baseline(component, load_pair(component), calls=100)
    BaselineStore(store).record(component, baseline)
    if shadow:
        ProductionSafetyManager(store, actor="test-setup").enable_shadow_mode(component, reason="test setup")
