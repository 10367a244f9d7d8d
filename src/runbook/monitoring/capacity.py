"""How many candidate calls a traffic step needs before the monitor can let it pass, and whether an
observation window x replay rate can ever supply them (pure).

With no errors, a rate below ``max_error_rate`` is shown at ``confidence`` only after
ln(1 - confidence) / ln(1 - max_error_rate) calls (4,603 for the ADR's 0.1% at 99%), and never
before ``min_observations``. A step at ``p``% sees about window x rate x p/100 candidate calls per
window, over at most ``windows`` windows (the first and its extensions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring._binomial import trials_needed

__all__ = ["calls_to_decide", "check_capacity", "step_calls"]


def calls_to_decide(thresholds: RollbackThresholds) -> int:
    """Candidate calls the monitor needs, with no error among them, to pass the error-rate trigger."""
    by_rate = trials_needed(0, thresholds.max_error_rate, thresholds.confidence)
    return max(thresholds.min_observations, by_rate)


def step_calls(percent: float, *, window_s: float, rate_per_s: float, windows: int) -> int:
    """Candidate calls replayed at ``percent``% over ``windows`` windows of ``window_s`` at ``rate_per_s``."""
    return int(window_s * rate_per_s * min(percent, 100.0) / 100.0 * windows)


def check_capacity(
    steps: Iterable[float], *, window_s: float, rate_per_s: float, windows: int,
    thresholds: RollbackThresholds,
) -> int:
    """The calls each step needs; BadParameter naming the first step that can never reach them."""
    needed = calls_to_decide(thresholds)
    for percent in steps:
        calls = step_calls(percent, window_s=window_s, rate_per_s=rate_per_s, windows=windows)
        if calls < needed:
            share = min(percent, 100.0) / 100.0 * windows
            raise BadParameter(
                f"step {percent:g}%: the monitor needs {needed:,} candidate calls to pass an error rate of "
                f"{thresholds.max_error_rate:.3g} at {thresholds.confidence:.3g} confidence, but "
                f"{window_s:g} s x {rate_per_s:g}/s x {percent:g}% x {windows} window(s) replays about "
                f"{calls:,}; raise observation.window_s to >= {math.ceil(needed / (rate_per_s * share)):,} s "
                f"or observation.rate_per_s to >= {math.ceil(needed / (window_s * share)):,}/s"
            )
    return needed
