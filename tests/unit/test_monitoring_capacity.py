"""A traffic step's capacity check: the calls the monitor needs against what a window x rate replays."""

from __future__ import annotations

import math

import pytest

from runbook.domain.thresholds import RollbackThresholds
from runbook.errors import BadParameter
from runbook.monitoring.capacity import calls_to_decide, check_capacity


def test_the_adr_thresholds_need_4603_clean_calls():
    """0.1% at 99% confidence: ln(0.01) / ln(0.999) rounded up, computed here independently."""
    assert calls_to_decide(RollbackThresholds()) == math.ceil(math.log(0.01) / math.log(0.999)) == 4603


def test_fifteen_seconds_at_300_per_second_cannot_decide_the_five_percent_step():
    """15 s x 300/s x 5% x 3 windows is 675 calls: refused, naming the step and what would do."""
    with pytest.raises(BadParameter, match=r"step 5%: the monitor needs 4,603 .* about 675; raise") as info:
        check_capacity([5, 25, 100], window_s=15, rate_per_s=300, windows=3, thresholds=RollbackThresholds())
    needed_window = math.ceil(4603 / (300 * 0.05 * 3))
    assert f"window_s to >= {needed_window:,} s" in str(info.value)


def test_a_window_that_can_decide_every_step_passes():
    """300 s x 200/s (the defaults) decide the 5% step: 9,000 calls over three windows."""
    assert check_capacity([5, 25, 50, 100], window_s=300, rate_per_s=200, windows=3,
                          thresholds=RollbackThresholds()) == 4603
