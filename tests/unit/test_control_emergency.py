"""verified_rollback retries an unavailable store with back-off and gives up before its deadline."""

from __future__ import annotations

import pytest

from runbook.control.emergency import verified_rollback
from runbook.errors import RollbackFailed

# Nothing listens on port 9: every connection is refused at once, so no real time passes.
REFUSING = "postgresql+psycopg://postgres@127.0.0.1:9/none"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_retries_with_growing_back_off_and_stops_before_the_deadline() -> None:
    """Refused attempts are retried, each wait longer, and the last one starts with a full attempt left."""
    clock = FakeClock()
    retries: list[int] = []
    with pytest.raises(RollbackFailed, match="rollback of var_engine NOT DONE") as failed:
        verified_rollback(
            REFUSING, "var_engine", actor="oncall", reason="page", timeout_s=1.0, deadline_s=12.0,
            clock=clock, sleep=clock.sleep, on_retry=lambda n, _exc, _d: retries.append(n),
        )  # fmt: skip
    assert len(clock.slept) >= 2
    assert clock.slept == sorted(clock.slept)
    assert clock.now <= 12.0
    assert retries == list(range(1, len(clock.slept) + 1))
    assert f"{len(retries) + 1} attempt(s)" in str(failed.value)
    assert "unavailable" in str(failed.value)


def test_a_deadline_shorter_than_one_attempt_tries_once() -> None:
    """With no room for a second attempt the first failure is the answer, nothing slept."""
    clock = FakeClock()
    with pytest.raises(RollbackFailed, match="1 attempt"):
        verified_rollback(
            REFUSING, "all_components", actor="oncall", reason="page", timeout_s=1.0, deadline_s=0.5,
            clock=clock, sleep=clock.sleep,
        )  # fmt: skip
    assert clock.slept == []
