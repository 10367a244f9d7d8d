"""LatencySketch: quantiles within 1%, exact merges, JSON round trip."""

from __future__ import annotations

import numpy as np

from runbook.domain.sketch import RELATIVE_ACCURACY, LatencySketch


def test_quantiles_are_within_the_relative_accuracy() -> None:
    """p50, p90, p99 of 20,000 lognormal latencies lie within 1% of numpy's order statistics."""
    values = np.random.default_rng(7).lognormal(mean=5.0, sigma=0.8, size=20_000)
    sketch = LatencySketch.of(values.tolist())
    for q in (0.5, 0.9, 0.99):
        exact = float(np.quantile(values, q, method="lower"))
        assert abs(sketch.quantile(q) - exact) <= RELATIVE_ACCURACY * exact


def test_merge_equals_the_sketch_of_all_values() -> None:
    """Merging sketches of two halves gives the sketch of the whole (counts add exactly)."""
    values = [*np.random.default_rng(1).exponential(100.0, size=5000).tolist(), 0.0, -1.0]
    whole = LatencySketch.of(values)
    merged = LatencySketch.of(values[:2_000]).merge(LatencySketch.of(values[2_000:]))
    assert merged.buckets == whole.buckets
    assert merged.zeros == whole.zeros == 2
    assert merged.count == len(values)


def test_none_and_non_finite_values_are_not_counted() -> None:
    """None, NaN and inf are skipped; an empty sketch has no quantile."""
    sketch = LatencySketch.of([None, float("nan"), float("inf")])
    assert sketch.count == 0
    assert sketch.quantile(0.5) is None


def test_count_above_counts_values_clearly_over_the_limit() -> None:
    """Of 100, 200 and 300 (x10 each), 20 lie over 150 and none over 400."""
    sketch = LatencySketch.of([100.0] * 10 + [200.0] * 10 + [300.0] * 10)
    assert sketch.count_above(150.0) == 20
    assert sketch.count_above(400.0) == 0
    assert sketch.count_above(0.0) == 30


def test_json_round_trip() -> None:
    """to_json / from_json keep every bucket and the zero count."""
    sketch = LatencySketch.of([0.0, 1.5, 1e6, 42.0, 42.0])
    again = LatencySketch.from_json(sketch.to_json())
    assert again.buckets == sketch.buckets
    assert again.zeros == 1
    assert LatencySketch.from_json(None).count == 0
