"""The monitor's value types: one check's outcome and the decision with its evidence.

``Verdict`` and ``CheckStatus`` are domain words (``runbook.domain.verdicts``), re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from runbook.domain.verdicts import CheckStatus, Verdict

__all__ = ["BaselineLike", "Check", "CheckStatus", "Evidence", "MonitorDecision", "Verdict"]

Evidence = dict[str, float | int | str | None]


class BaselineLike(Protocol):
    """The legacy baseline a candidate is held to (``runbook.control.baselines.Baseline`` fits)."""

    @property
    def latency_p50_us(self) -> float: ...
    @property
    def peak_memory_bytes(self) -> int: ...
    @property
    def hedge_effectiveness(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome: ``reason`` names the check and its numbers; evidence is JSON-able."""

    name: str
    status: CheckStatus
    reason: str
    evidence: Evidence = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MonitorDecision:
    """A monitor verdict with its reasons (one line per check, failures first) and evidence.

    ``evidence`` is a flat JSON-able mapping of numbers (counts, rates, bounds, microseconds,
    bytes) plus the status of each check under ``check.<name>``.
    """

    verdict: Verdict
    reasons: tuple[str, ...]
    evidence: Evidence

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """Names of the checks that failed (non-empty exactly when the verdict is ROLLBACK)."""
        return tuple(
            k.removeprefix("check.")
            for k, v in self.evidence.items()
            if k.startswith("check.") and v == CheckStatus.FAIL.value
        )

    @property
    def since(self) -> float:
        """Start of the window the verdict looked at (epoch seconds; 0.0 when not recorded)."""
        value = self.evidence.get("since")
        return float(value) if isinstance(value, int | float) else 0.0

    @property
    def summary(self) -> str:
        """One line: the verdict and the reasons that made it (failures, else undecided checks)."""
        return f"{self.verdict.value.upper()}: " + ("; ".join(self.reasons[:3]) or "no checks")

    @property
    def lines(self) -> tuple[str, ...]:
        """The verdict, then one line per check (failures first): what a gate shows an approver."""
        return (self.verdict.value.upper(), *self.reasons)

    def to_dict(self) -> dict[str, object]:
        return {"verdict": self.verdict.value, "reasons": list(self.reasons), "evidence": dict(self.evidence)}
