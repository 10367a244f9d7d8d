"""``/runbook PHASE COMPONENT``: a phase started from Slack, with the verified Slack user as initiator.

The request is verified like a button click (signature on the raw body, 5-minute window, replay).
The command leaves a start ticket naming the Slack user id, then starts the phase's deployment with
that ticket; the run claims it at its start, so its initiator is the verified user, not a typed name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from runbook.domain.gates import MAX_ACTOR_CHARS

__all__ = ["PHASES", "PhaseStarter", "SlashCommand", "parse_command", "start_phase"]

log = logging.getLogger(__name__)

# Phases a slash command may start (those whose runs take a start ticket).
PHASES = ("shadow", "canary", "critical", "cleanup")
COMPONENTS = ("market_data_provider", "performance_analyzer", "correlation_analyzer", "var_engine",
              "hedge_calculator")


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A verified ``/runbook`` command: who typed it where, and the phase and component asked for."""

    user_id: str
    channel_id: str | None
    phase: str
    component: str


class PhaseStarter(Protocol):
    """Starts a phase run with a verified start ticket; returns the run's id or name."""

    def __call__(self, *, phase: str, component: str, initiator: str, start_ticket: str) -> str: ...


def usage() -> str:
    return (f"Usage: /runbook PHASE COMPONENT, e.g. `/runbook critical var_engine`; "
            f"phases: {', '.join(PHASES)}; components: {', '.join(COMPONENTS)}")


def parse_command(body: bytes) -> SlashCommand | str:
    """The command carried by a verified form body, or the reason it is not one (for the reply)."""
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), max_num_fields=50).items()}
    except (UnicodeDecodeError, ValueError):
        return "the body is not a URL-encoded form"
    user_id = form.get("user_id", "")
    if not user_id or len(user_id) > MAX_ACTOR_CHARS:
        return f"the command names no user (or an id longer than {MAX_ACTOR_CHARS} characters)"
    words = form.get("text", "").split()
    if len(words) != 2 or words[0] not in PHASES or words[1] not in COMPONENTS:
        return usage()
    return SlashCommand(user_id=user_id, channel_id=form.get("channel_id"), phase=words[0],
                        component=words[1])


def start_phase(store: Any, command: SlashCommand, starter: PhaseStarter, audit: Any) -> str:
    """Issue the verified start ticket, start the run, audit it; the text to tell the user."""
    from runbook.control.starts import VerifiedStarts

    ticket = VerifiedStarts(store).issue(phase=command.phase, component=command.component,
                                         principal=command.user_id, channel="slack")
    run = starter(phase=command.phase, component=command.component, initiator=command.user_id,
                  start_ticket=ticket)
    audit.append(component=command.component, action="phase_start_requested", actor=command.user_id,
                 reason=f"/runbook {command.phase} {command.component} via Slack",
                 evidence={"flow_run": run, "channel_id": command.channel_id})
    return f"Started {command.phase} of {command.component} (run {run}); you are its verified initiator."


def command_meta(meta: Mapping[str, object], command: SlashCommand) -> dict[str, object]:
    return {**meta, "slack_user": command.user_id, "phase": command.phase, "component": command.component}
