"""Gates: what a human is asked, who may answer, and how an answer is judged (pure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

from runbook.errors import ApprovalRefused


class Decision(StrEnum):
    """A gate's outcome."""

    APPROVE = "approve"
    REJECT = "reject"
    TIMEOUT = "timeout"


class Channel(StrEnum):
    """Where a decision came from; all channels share one code path (``runbook.approvals``)."""

    PREFECT_UI = "prefect_ui"
    CLI = "cli"
    SLACK = "slack"
    CONSOLE = "console"
    DEMO = "demo"
    AUTOMATION = "automation"


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Who may decide a gate.

    required_approvals: distinct approvers needed (2 on critical components).
    allowed_approvers: user ids allowed to decide; empty means anyone.
    forbid_initiator: the person who started the run may not decide.
    """

    required_approvals: int = 1
    allowed_approvers: frozenset[str] = field(default_factory=frozenset)
    forbid_initiator: bool = False


def check_approver(
    policy: GatePolicy,
    *,
    approver: str,
    initiator: str | None,
    prior_approvers: Collection[str],
) -> None:
    """Raise ``ApprovalRefused`` with the reason if ``approver`` may not decide this gate now."""
    if policy.allowed_approvers and approver not in policy.allowed_approvers:
        raise ApprovalRefused(f"{approver!r} is not on this gate's approver allow-list")
    if policy.forbid_initiator and initiator is not None and approver == initiator:
        raise ApprovalRefused(f"{approver!r} started this run and may not decide its critical gate")
    if approver in prior_approvers:
        raise ApprovalRefused(
            f"{approver!r} already approved this gate; a second, different approver is required"
        )
