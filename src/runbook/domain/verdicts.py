"""The words a monitor's conclusion is spoken in, shared by the monitor and the decisions that act on it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CheckStatus", "Verdict"]


class Verdict(StrEnum):
    """What the monitor concludes about a component for now."""

    CONTINUE = "continue"
    HOLD = "hold"
    ROLLBACK = "rollback"


class CheckStatus(StrEnum):
    """One check's outcome; UNDECIDED (too few calls) makes the verdict HOLD, NOT_APPLICABLE does not."""

    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"
    NOT_APPLICABLE = "not_applicable"
