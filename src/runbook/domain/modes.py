"""Modes and the state machine that moves a component between them (DESIGN.md section 4).

    legacy -> shadow -> canary(f) -> full -> retired
    canary(f) -> canary(f') (a traffic step, up or down)
    any live mode -> rolled_back ; rolled_back -> shadow (explicit re-entry only)
"""

from __future__ import annotations

from enum import StrEnum

from runbook.errors import InvalidTransition


class Mode(StrEnum):
    """Where a component's calls go."""

    LEGACY = "legacy"
    SHADOW = "shadow"
    CANARY = "canary"
    FULL = "full"
    RETIRED = "retired"
    ROLLED_BACK = "rolled_back"


_FORWARD: dict[Mode, frozenset[Mode]] = {
    Mode.LEGACY: frozenset({Mode.SHADOW}),
    Mode.SHADOW: frozenset({Mode.CANARY}),
    Mode.CANARY: frozenset({Mode.CANARY, Mode.FULL}),
    Mode.FULL: frozenset({Mode.RETIRED}),
    Mode.RETIRED: frozenset(),
    Mode.ROLLED_BACK: frozenset({Mode.SHADOW}),
}

# Once the old code is removed there is nothing to roll back to.
LIVE_MODES: frozenset[Mode] = frozenset({Mode.SHADOW, Mode.CANARY, Mode.FULL})

# Modes in which the candidate sees production inputs; nightly validation covers these.
IN_MIGRATION: frozenset[Mode] = frozenset({Mode.SHADOW, Mode.CANARY, Mode.FULL})


def allowed_moves(current: Mode) -> frozenset[Mode]:
    """Every mode reachable from ``current`` in one step, rollback included."""
    moves = set(_FORWARD[current])
    if current in LIVE_MODES:
        moves.add(Mode.ROLLED_BACK)
    return frozenset(moves)


def check_transition(component: str, current: Mode, target: Mode) -> None:
    """Raise ``InvalidTransition`` naming the current mode and the allowed moves if refused.

    Rollback is handled by the caller: it is never refused (a no-op where there is nothing to undo).
    """
    allowed = allowed_moves(current)
    if target not in allowed:
        listed = ", ".join(sorted(m.value for m in allowed)) or "none"
        raise InvalidTransition(
            f"{component} is in mode {current.value!r}; cannot move to {target.value!r}; "
            f"allowed from {current.value!r}: {listed}"
        )
