"""Gates: what a human is asked, who may answer, and how an answer is judged (pure)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
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
    CLI_SIGNED = "cli_signed"  # a decision signed with the approver's SSH key, verified by the runbook
    SLACK = "slack"
    CONSOLE = "console"
    DEMO = "demo"
    AUTOMATION = "automation"

    @property
    def verified(self) -> bool:
        """True when the channel proves who decided (a typed name proves nothing)."""
        return self in _VERIFIED


_VERIFIED = frozenset({Channel.SLACK, Channel.CLI_SIGNED, Channel.AUTOMATION})

# Longest user id or principal a decision may carry (the store's column width).
MAX_ACTOR_CHARS = 128


class UnverifiedChannels(StrEnum):
    """Where a typed name (CLI ``--as``, the Prefect resume form, console, demo) counts as a decision."""

    NONE = "none"  # nowhere: every gate needs a verified channel
    STANDARD = "standard"  # standard gates only (the default): critical gates need a verified channel
    ALL = "all"  # everywhere (demos and drills)

    def allowed_on(self, *, critical: bool) -> bool:
        return self is UnverifiedChannels.ALL or (self is UnverifiedChannels.STANDARD and not critical)


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Who may decide a gate.

    required_approvals: distinct approvers needed (2 on critical components).
    allowed_approvers: user ids allowed to decide; empty means anyone.
    forbid_initiator: the person who started the run may not decide.
    verified_only: only a verified channel (signed Slack request, signed CLI decision) counts.
    """

    required_approvals: int = 1
    allowed_approvers: frozenset[str] = field(default_factory=frozenset)
    forbid_initiator: bool = False
    verified_only: bool = False


def check_approver(
    policy: GatePolicy,
    *,
    approver: str,
    initiator: str | None,
    prior_approvers: Collection[str],
    channel: Channel | None = None,
) -> None:
    """Raise ``ApprovalRefused`` with the reason if ``approver`` may not decide this gate now."""
    if not approver or len(approver) > MAX_ACTOR_CHARS:
        raise ApprovalRefused(f"an approver id has 1 to {MAX_ACTOR_CHARS} characters (got {len(approver)})")
    if policy.verified_only and (channel is None or not channel.verified):
        via = channel.value if channel is not None else "an unknown channel"
        raise ApprovalRefused(
            f"this gate needs a verified identity; a typed name via {via} does not count. Decide from "
            "Slack, or sign: `runbook approve RUN --gate KEY --sign-with ~/.ssh/id_ed25519`"
        )
    if policy.allowed_approvers and approver not in policy.allowed_approvers:
        raise ApprovalRefused(f"{approver!r} is not on this gate's approver allow-list")
    if policy.forbid_initiator and initiator is not None and approver == initiator:
        raise ApprovalRefused(f"{approver!r} started this run and may not decide its critical gate")
    if approver in prior_approvers:
        raise ApprovalRefused(
            f"{approver!r} already approved this gate; a second, different approver is required"
        )


class GateStatus(StrEnum):
    """Where a gate request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    SUPERSEDED = "superseded"  # a refused answer re-opened the gate under the next attempt's key


def gate_key(*, flow_run_id: str, phase: str, component: str, step: str, attempt: int, slot: int = 1) -> str:
    """The pause key of one gate: unique per run, gate, attempt and approval slot.

    Prefect returns a used key's old answer at once, so the attempt and the approval slot
    (1 or 2 on critical gates) are part of the key. Prefect keys of paused runs that wait for
    input may hold only lowercase letters, digits and dashes, so every part is mapped to those.
    """
    parts = (phase, component, step, f"run-{flow_run_id[:8]}", f"a{attempt}", f"s{slot}")
    return "-".join(re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-") for part in parts)


@dataclass(frozen=True, slots=True)
class GateRequest:
    """A gate a paused run is waiting on, as stored in ``gate_requests``.

    ``evidence`` is a JSON-able mapping of the numbers shown to the approver.
    """

    gate_key: str
    flow_run_id: str
    component: str
    phase: str
    title: str
    critical: bool
    policy: GatePolicy
    initiator: str | None
    evidence: dict[str, object]
    created_at: datetime
    expires_at: datetime | None = None
    status: GateStatus = GateStatus.PENDING
    slack_channel: str | None = None
    slack_ts: str | None = None


@dataclass(frozen=True, slots=True)
class GateDecisionRecord:
    """One row of ``gate_decisions``: the first decision written for a gate key."""

    flow_run_id: str
    gate_key: str
    decision: Decision
    approver: str
    channel: Channel
    at: datetime
    comment: str = ""
    resumed_at: datetime | None = None  # when the run resumed with it (None: not acted on yet)
