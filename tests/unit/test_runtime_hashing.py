"""Stable routing points and result digests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from hashlib import blake2b

import numpy as np
import pytest

from runbook.runtime import result_digest, routing_point

KEYS = [f"portfolio-{i}" for i in range(10_000)]


@dataclass(frozen=True, slots=True)
class VaRResult:
    var: float
    es: float


def test_routing_point_is_blake2b_of_component_and_key():
    """The point is the first 8 bytes of blake2b(component, key) read big-endian over 2**64."""
    expected = int.from_bytes(blake2b(b"var_engine\x1fbook-7", digest_size=8).digest(), "big") / 2**64
    assert routing_point("var_engine", "book-7") == expected


def test_routing_point_is_in_unit_interval():
    """Every point lies in [0, 1)."""
    points = [routing_point("var_engine", key) for key in KEYS]
    assert min(points) >= 0.0
    assert max(points) < 1.0


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.10, 0.25, 0.50, 0.90])
def test_fraction_of_keys_below_f_is_f(fraction):
    """A canary fraction f sends f of 10,000 keys to the candidate, within 2 percentage points."""
    share = sum(routing_point("var_engine", key) < fraction for key in KEYS) / len(KEYS)
    assert abs(share - fraction) <= 0.02


def test_points_are_independent_between_components():
    """Being in one component's 10% canary says nothing of another's (about 1% are in both)."""
    both = sum(
        routing_point("var_engine", key) < 0.1 and routing_point("hedge_calculator", key) < 0.1
        for key in KEYS
    )
    assert abs(both / len(KEYS) - 0.01) <= 0.005


def test_routing_points_match_across_processes_with_other_hash_seeds():
    """Another interpreter with another PYTHONHASHSEED computes the same points (no salted hash)."""
    code = (
        "import json; from runbook.runtime import routing_point; "
        "print(json.dumps([routing_point('var_engine', f'portfolio-{i}') for i in range(50)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [routing_point("var_engine", f"portfolio-{i}") for i in range(50)]


def test_equal_results_have_equal_digests_and_different_results_differ():
    """Digests are equal for equal values and differ for a change in the last bit of a float."""
    assert result_digest(VaRResult(1.5, 2.0)) == result_digest(VaRResult(1.5, 2.0))
    assert result_digest(VaRResult(1.5, 2.0)) != result_digest(VaRResult(1.5, np.nextafter(2.0, 3.0)))
    assert len(result_digest(1.0)) == 16


def test_mapping_digest_ignores_insertion_order():
    """Two mappings with the same items digest equally whatever their order."""
    assert result_digest({"var": 1.0, "es": 2.0}) == result_digest({"es": 2.0, "var": 1.0})


def test_array_digest_depends_on_values_and_shape():
    """Arrays digest by dtype, shape and bytes."""
    a = np.arange(6, dtype=float)
    assert result_digest(a) == result_digest(a.copy())
    assert result_digest(a) != result_digest(a.reshape(2, 3))
    assert result_digest(a) != result_digest(a + 1e-12)


def test_exception_digest_names_the_type():
    """An exception digests as '!' and its type name."""
    assert result_digest(ValueError("x")) == "!ValueError"
