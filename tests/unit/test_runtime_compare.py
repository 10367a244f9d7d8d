"""Default compare, validate and structure checks of engine results."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from runbook.runtime import default_compare, default_validate, structure_mismatch


@dataclass(frozen=True, slots=True)
class HedgeResult:
    hedge_ratio: float
    contracts: float


@dataclass(frozen=True, slots=True)
class OtherResult:
    hedge_ratio: float
    contracts: float


def test_compare_numbers():
    """abs is |new - old| and rel is abs / |old|."""
    abs_diff, rel_diff = default_compare(200.0, 200.5)
    assert abs_diff == pytest.approx(0.5)
    assert rel_diff == pytest.approx(0.5 / 200.0)


def test_compare_dataclass_takes_largest_difference_relative_to_largest_magnitude():
    """Hull's hedge (h*=0.96, N*=19.2) against a candidate off by 0.2 contracts: abs 0.2, rel 0.2/19.2."""
    abs_diff, rel_diff = default_compare(HedgeResult(0.96, 19.2), HedgeResult(0.96, 19.4))
    assert abs_diff == pytest.approx(0.2)
    assert rel_diff == pytest.approx(0.2 / 19.2)


def test_compare_sequences_mappings_and_arrays():
    """Nested sequences, mappings and numpy arrays compare element by element."""
    old = {"var": [1.0, 2.0], "weights": np.array([0.5, 0.5])}
    new = {"var": [1.0, 2.25], "weights": np.array([0.5, 0.4])}
    abs_diff, rel_diff = default_compare(old, new)
    assert abs_diff == pytest.approx(0.25)
    assert rel_diff == pytest.approx(0.25 / 2.0)


def test_identical_results_compare_as_zero():
    """Bit-identical results give (0, 0), zeros included."""
    assert default_compare([0.0, 0.0], [0.0, 0.0]) == (0.0, 0.0)
    assert default_compare(np.zeros(3), np.zeros(3)) == (0.0, 0.0)


def test_structure_difference_compares_as_infinite():
    """Different lengths or keys cannot be compared: (inf, inf)."""
    assert default_compare([1.0, 2.0], [1.0]) == (math.inf, math.inf)
    assert default_compare({"a": 1.0}, {"b": 1.0}) == (math.inf, math.inf)


def test_nan_on_one_side_is_infinitely_different():
    """A NaN where the other side has a number is an infinite difference, not zero."""
    assert default_compare([1.0, 2.0], [1.0, math.nan])[0] == math.inf


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, [1.0, math.nan], {"var": math.inf}, HedgeResult(math.nan, 1.0),
     np.array([1.0, np.nan]), (1.0, [2.0, np.float64("inf")])],
)  # fmt: skip
def test_validate_rejects_non_finite_anywhere(value):
    """NaN or inf at any depth is invalid, with a reason."""
    assert default_validate(value) is not None


@pytest.mark.parametrize(
    "value", [1.0, 0, [1.0, 2.0], {"var": 1.0}, HedgeResult(0.96, 19.2), np.ones(3), "x"]
)
def test_validate_accepts_finite_values(value):
    """Finite numbers and non-numbers are valid."""
    assert default_validate(value) is None


def test_validate_reason_names_where():
    """The reason points at the bad field."""
    assert "contracts" in default_validate(HedgeResult(1.0, math.nan))


def test_structure_mismatch_detects_type_shape_and_keys():
    """A different type, array shape, length or key set is reported; numbers match numbers."""
    assert structure_mismatch(1.0, np.float64(2.0)) is None
    assert structure_mismatch(1.0, 2) is None
    assert structure_mismatch(HedgeResult(1.0, 2.0), OtherResult(1.0, 2.0)) is not None
    assert structure_mismatch(np.zeros(3), np.zeros(4)) is not None
    assert structure_mismatch([1.0, 2.0], [1.0]) is not None
    assert structure_mismatch({"a": 1.0}, {"b": 1.0}) is not None
    assert structure_mismatch(1.0, "1.0") is not None
    assert structure_mismatch({"a": [1.0, 2.0]}, {"a": [1.0, 2.0]}) is None
