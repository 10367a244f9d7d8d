"""LatencySketch: a small mergeable log-bucket histogram of latencies (DDSketch-like).

A positive value ``x`` falls in bucket ``i = ceil(log(x) / log(gamma))`` with
``gamma = (1 + a) / (1 - a)``; the bucket's representative ``2 gamma^i / (gamma + 1)`` is within a
relative error ``a`` (``RELATIVE_ACCURACY``, 1%) of every value in it. Values <= 0 count in a zero
bucket. Two sketches merge by adding counts, so minute rollups combine exactly into any window: the
merged sketch is the sketch of all the window's values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["LOG_GAMMA", "RELATIVE_ACCURACY", "LatencySketch"]

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LOG_GAMMA = math.log(_GAMMA)  # a bucket's index is ceil(log(x) / LOG_GAMMA)
_LOG_GAMMA = LOG_GAMMA
_ZERO = "z"  # key of the zero bucket in the JSON form


def bucket_of(value: float) -> int:
    """The bucket index of a positive value."""
    return math.ceil(math.log(value) / _LOG_GAMMA)


def representative(index: int) -> float:
    """The value reported for bucket ``index`` (within RELATIVE_ACCURACY of its members)."""
    return 2.0 * _GAMMA**index / (_GAMMA + 1.0)


@dataclass(slots=True)
class LatencySketch:
    """Counts per log bucket (microseconds in, microseconds out); merge by adding counts."""

    buckets: dict[int, int] = field(default_factory=dict)
    zeros: int = 0

    @classmethod
    def of(cls, values: Iterable[float | None]) -> LatencySketch:
        """A sketch of the finite values among ``values`` (None and NaN/inf skipped)."""
        sketch = cls()
        for value in values:
            sketch.add(value)
        return sketch

    def add(self, value: float | None, count: int = 1) -> None:
        """Count ``value`` ``count`` times (None and non-finite values are ignored)."""
        if value is None or not math.isfinite(value):
            return
        if value <= 0.0:
            self.zeros += count
            return
        index = bucket_of(value)
        self.buckets[index] = self.buckets.get(index, 0) + count

    def merge(self, other: LatencySketch) -> LatencySketch:
        """Add ``other``'s counts into this sketch; returns self."""
        self.zeros += other.zeros
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        return self

    @property
    def count(self) -> int:
        """How many values were counted."""
        return self.zeros + sum(self.buckets.values())

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1) within RELATIVE_ACCURACY; None when empty.

        The rank is ``q (n - 1)`` rounded down, numpy's ``lower`` order statistic.
        """
        n = self.count
        if n == 0:
            return None
        rank = math.floor(q * (n - 1))
        if rank < self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return representative(index)
        return representative(max(self.buckets))  # pragma: no cover - q > 1 is refused upstream

    def count_above(self, limit: float) -> int:
        """Values in buckets wholly above ``limit`` (a value within 1% of it may count either way)."""
        if limit < 0:
            return self.count
        if limit == 0:
            return sum(self.buckets.values())
        edge = bucket_of(limit)
        return sum(count for index, count in self.buckets.items() if index > edge)

    def to_json(self) -> str:
        """Compact JSON: {"bucket": count, ..., "z": zeros}."""
        payload: dict[str, int] = {str(i): c for i, c in sorted(self.buckets.items())}
        if self.zeros:
            payload[_ZERO] = self.zeros
        return json.dumps(payload, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> LatencySketch:
        """The sketch ``to_json`` wrote (empty for None or "")."""
        payload: Mapping[str, int] = json.loads(text) if text else {}
        zeros = int(payload.get(_ZERO, 0))
        return cls({int(k): int(v) for k, v in payload.items() if k != _ZERO}, zeros)
