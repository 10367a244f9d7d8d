"""Who started a phase, and whether that is proven: the rule for starting critical phases.

A phase of a critical component asks critical gates, where the initiator may not approve; so the
initiator must be known, not typed. Such a phase starts from a verified channel (a signed
``runbook start`` or the Slack ``/runbook`` command), which leaves a start ticket the run claims;
started otherwise it is refused before anything moves, unless the configuration lets typed names
count on critical gates (``RUNBOOK_UNVERIFIED_CHANNELS=all``, as the demo's sandbox does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook.control.audit import AuditLog
from runbook.control.nonces import SeenNonces
from runbook.control.starts import VerifiedStarts
from runbook.domain.gates import MAX_ACTOR_CHARS, UnverifiedChannels
from runbook.errors import ApprovalRefused, PhaseStartRefused
from runbook.signatures import SignedMessage, start_message, verify

if TYPE_CHECKING:
    from pathlib import Path

    from runbook.control.store import Store

__all__ = ["Initiator", "how_to_start", "resolve_initiator", "signed_start"]


@dataclass(frozen=True, slots=True)
class Initiator:
    """Who started a run; ``channel`` is the verified channel, or ``typed`` for a typed name."""

    name: str
    verified: bool
    channel: str


def how_to_start(phase: str, component: str) -> str:
    """The commands that start ``phase`` of ``component`` from a verified channel."""
    return (f"start it from a verified channel: `/runbook {phase} {component}` in Slack, or "
            f"`runbook start {phase} --component {component} --sign-with ~/.ssh/id_ed25519`")


def resolve_initiator(
    store: Store, *, phase: str, component: str, critical: bool, typed: str, start_ticket: str | None,
    flow_run_id: str, unverified: UnverifiedChannels | str,
) -> Initiator:
    """The run's initiator: the ticket's verified principal, else the typed name where it counts.

    PhaseStartRefused (audited, with how to start it) when a critical phase has no valid ticket
    and typed names do not count on critical gates.
    """
    problem = "started without a verified identity"
    if start_ticket:
        try:
            start = VerifiedStarts(store).claim(start_ticket, flow_run_id=flow_run_id, phase=phase,
                                                component=component)
            return Initiator(start.principal, True, start.channel)
        except ApprovalRefused as exc:
            problem = f"its start ticket was refused ({exc})"
    if not critical or UnverifiedChannels(unverified).allowed_on(critical=True):
        if start_ticket:
            raise PhaseStartRefused(f"{phase} of {component}: {problem}")
        return Initiator(typed[:MAX_ACTOR_CHARS], False, "typed")
    message = (f"{component} is critical: its {phase} phase was refused at its start ({problem}; the "
               f"typed initiator {typed[:MAX_ACTOR_CHARS]!r} proves nothing); "
               f"{how_to_start(phase, component)}")
    AuditLog(store).append(component=component, action="phase_start_refused", actor=typed[:MAX_ACTOR_CHARS],
                           reason=message, evidence={"flow_run_id": flow_run_id, "phase": phase})
    raise PhaseStartRefused(message)


def signed_start(
    store: Store, signed: SignedMessage, *, phase: str, component: str, allowed_signers: Path | None,
    now: float | None = None,
) -> str:
    """A start ticket for the principal whose SSH signature over this start verifies.

    ApprovalRefused (audited) when the text does not name this phase and component, the signature
    does not verify or is stale, or its nonce was used before.
    """
    expected = start_message(phase=phase, component=component, nonce=signed.nonce, at=signed.at)
    try:
        if signed.text != expected:
            raise ApprovalRefused("the signed message does not name this phase and component")
        principal = verify(signed, allowed_signers=allowed_signers, now=time.time() if now is None else now)
        if not SeenNonces(store).first_use(f"ssh:{signed.nonce}", channel="cli_signed"):
            raise ApprovalRefused("this signed start was already used (a replay)")
    except ApprovalRefused as exc:
        AuditLog(store).append(component=component, action="phase_start_refused",
                               actor="unverified-signature",
                               reason=f"signed start refused: {exc}", evidence={"phase": phase})
        raise
    return VerifiedStarts(store).issue(phase=phase, component=component, principal=principal,
                                      channel="cli_signed")
