"""Column sizes of the control plane's free text, and how each kind of change treats a value over them.

No SQLAlchemy here: the DB-API rollback (``runbook.control.fast_rollback``) applies the same rules.
"""

from __future__ import annotations

from runbook.errors import BadParameter

__all__ = ["ACTOR_MAX_CHARS", "REASON_MAX_CHARS", "check_actor", "check_move_input", "clip_rollback_input"]

# Column sizes and sane bounds, the same on every backend (SQLite would store anything).
ACTOR_MAX_CHARS = 128
REASON_MAX_CHARS = 2_000


def check_actor(actor: str) -> None:
    """BadParameter when ``actor`` is empty or blank: every change names who made it."""
    if not actor or not actor.strip():
        raise BadParameter("actor must be a non-empty user or automation id")


def check_move_input(actor: str, reason: str) -> None:
    """BadParameter naming the limit when a forward move's actor or reason is too long."""
    if len(actor) > ACTOR_MAX_CHARS:
        raise BadParameter(f"actor is {len(actor)} characters long; at most {ACTOR_MAX_CHARS} are allowed")
    if len(reason or "") > REASON_MAX_CHARS:
        raise BadParameter(f"reason is {len(reason)} characters long; at most {REASON_MAX_CHARS} are allowed")


def clip_rollback_input(actor: str, reason: str) -> tuple[str, str, list[str]]:
    """(actor, reason, notes): a rollback is never refused, so over-long values are cut, with a note each."""
    notes = []
    if len(actor) > ACTOR_MAX_CHARS:
        notes.append(f"actor truncated from {len(actor)} to {ACTOR_MAX_CHARS} characters")
    if len(reason or "") > REASON_MAX_CHARS:
        notes.append(f"reason truncated from {len(reason)} to {REASON_MAX_CHARS} characters")
    return actor[:ACTOR_MAX_CHARS], (reason or "")[:REASON_MAX_CHARS], notes
