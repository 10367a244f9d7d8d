"""ProductionSafetyManager (ADR-0011): the only writer of ``component_state``.

Every change is one transaction: the state row, guarded by an optimistic epoch check, and its audit
row. Forward moves (shadow, canary, promote, retire) read the state, check the state machine, then
write ``UPDATE ... WHERE epoch = <epoch seen>``; if another writer got there first the update
matches no row and ``ConcurrentModification`` is raised, nothing written.

Rollback is different: it reads and writes inside the store's exclusive write transaction, so it
never loses a race and is never refused. Rolling back a component that is already ``legacy`` or
``rolled_back`` records a ``rollback_noop`` audit row and leaves the state, and therefore the epoch,
unchanged (routers have nothing to refresh). The one rollback that cannot be done is of a
``retired`` component: its old code is gone, so that raises ``InvalidTransition`` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, insert, select, text, update

from runbook.control._limits import (
    ACTOR_MAX_CHARS,
    REASON_MAX_CHARS,
    check_actor,
    check_move_input,
    clip_rollback_input,
)
from runbook.control._time import utc_now
from runbook.control.audit import append_entry
from runbook.control.models import ComponentStateRow
from runbook.control.store import STATE_CHANNEL, read_state
from runbook.domain.components import ALL_COMPONENTS_ALIAS, catalog_components, parse_component
from runbook.domain.modes import LIVE_MODES, Mode, check_transition
from runbook.domain.state import ComponentState, TrafficSplit
from runbook.errors import ConcurrentModification, InvalidTrafficFraction, InvalidTransition

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = [
    "ACTOR_MAX_CHARS",
    "MIN_CANARY_PERCENT",
    "REASON_MAX_CHARS",
    "ProductionSafetyManager",
    "check_move_input",
    "clip_rollback_input",
    "parse_percent",
]

# A canary below one routing key in 10,000 sends (almost) nothing to the candidate.
MIN_CANARY_PERCENT = 0.01

_TABLE = cast(Table, ComponentStateRow.__table__)
Evidence = Mapping[str, Any] | None


class ProductionSafetyManager:
    """Moves components between modes for ``actor`` (a person or automation id, kept in the audit).

    Forward moves accept ``expected_epoch``: the epoch the caller based its decision on (e.g. when
    a gate opened); if the state has moved on since, ``ConcurrentModification`` is raised.
    """

    def __init__(self, store: Store, *, actor: str) -> None:
        check_actor(actor)
        self._store = store
        self._requested_actor = actor
        # Rollbacks record this (never refused); forward moves refuse an over-long actor.
        self.actor = actor[:ACTOR_MAX_CHARS]

    def enable_shadow_mode(
        self,
        component: str,
        *,
        reason: str = "",
        evidence: Evidence = None,
        expected_epoch: int | None = None,
    ) -> ComponentState:
        """Run the candidate beside legacy on every call; callers still get legacy's answer."""
        return self._move(component, Mode.SHADOW, 0.0, "enable_shadow_mode", reason, evidence, expected_epoch)

    def enable_canary_deployment(
        self,
        component: str,
        traffic_percent: float,
        *,
        reason: str = "",
        evidence: Evidence = None,
        expected_epoch: int | None = None,
    ) -> ComponentState:
        """Send ``traffic_percent`` (open interval (0, 100)) of routing keys to the candidate."""
        name = parse_component(str(component)).value
        split = TrafficSplit.from_percent(parse_percent(traffic_percent))
        return self._move(
            name, Mode.CANARY, split.fraction, "enable_canary_deployment", reason, evidence, expected_epoch
        )

    def promote(
        self,
        component: str,
        *,
        reason: str = "",
        evidence: Evidence = None,
        expected_epoch: int | None = None,
    ) -> ComponentState:
        """Send all traffic to the candidate (mode ``full``); legacy stays deployed for rollback."""
        return self._move(component, Mode.FULL, 1.0, "promote", reason, evidence, expected_epoch)

    def retire(
        self,
        component: str,
        *,
        reason: str = "",
        evidence: Evidence = None,
        expected_epoch: int | None = None,
    ) -> ComponentState:
        """Record that legacy was removed (mode ``retired``): after this there is no rollback."""
        return self._move(component, Mode.RETIRED, 1.0, "retire", reason, evidence, expected_epoch)

    def rollback_component(self, component: str, *, reason: str, evidence: Evidence = None) -> ComponentState:
        """Send all traffic back to legacy at once; idempotent, never refused, never loses a race.

        Raises InvalidTransition only for a ``retired`` component (no legacy code to return to).
        """
        name = parse_component(str(component)).value
        reason = clip_rollback_input(self.actor, reason)[1]
        with self._store.write() as conn:
            return self._rollback_in(conn, read_state(conn, name), reason, evidence)

    def rollback_all(self, *, reason: str, evidence: Evidence = None) -> list[ComponentState]:
        """Roll back every component in a live mode (shadow, canary, full) in one transaction.

        Returns the new states of the components rolled back (empty if none was live). Retired,
        legacy and rolled-back components are left as they are and listed in a summary audit row.
        """
        changed: list[ComponentState] = []
        reason = clip_rollback_input(self.actor, reason)[1]
        with self._store.write() as conn:
            states = [read_state(conn, c.value) for c in catalog_components()]
            for state in states:
                if state.mode in LIVE_MODES:
                    changed.append(self._rollback_in(conn, state, reason, evidence))
            unchanged = {s.component: s.mode.value for s in states if s.mode not in LIVE_MODES}
            summary = {"rolled_back": [s.component for s in changed], "unchanged": unchanged}
            append_entry(
                conn,
                component=ALL_COMPONENTS_ALIAS,
                action="rollback_all",
                actor=self.actor,
                reason=reason,
                evidence={**dict(evidence or {}), **summary},
            )
        return changed

    # ---- internals ----------------------------------------------------------------------------
    def _move(
        self,
        component: str,
        target: Mode,
        fraction: float,
        action: str,
        reason: str,
        evidence: Evidence,
        expected_epoch: int | None,
    ) -> ComponentState:
        name = parse_component(str(component)).value
        check_move_input(self._requested_actor, reason)
        seen = self._store.state(name)
        if expected_epoch is not None and seen.epoch != expected_epoch:
            raise _conflict(name, expected_epoch, seen)
        check_transition(name, seen.mode, target)
        with self._store.write() as conn:
            new = self._write_state(conn, seen, target, fraction, reason)
            self._audit(conn, action, seen, new, reason, evidence)
        return new

    def _rollback_in(
        self, conn: Connection, current: ComponentState, reason: str, evidence: Evidence
    ) -> ComponentState:
        if current.mode is Mode.RETIRED:
            raise InvalidTransition(
                f"{current.component} is retired: its legacy implementation was removed, so there is "
                "nothing to roll back to; nothing was changed (redeploy legacy to recover)"
            )
        if current.mode not in LIVE_MODES:
            self._audit(conn, "rollback_noop", current, current, reason, evidence)
            return current
        new = self._write_state(conn, current, Mode.ROLLED_BACK, 0.0, reason)
        self._audit(conn, "rollback", current, new, reason, evidence)
        return new

    def _write_state(
        self, conn: Connection, seen: ComponentState, mode: Mode, fraction: float, reason: str
    ) -> ComponentState:
        new = ComponentState(
            component=seen.component,
            mode=mode,
            traffic_fraction=fraction,
            epoch=seen.epoch + 1,
            updated_at=utc_now(),
            updated_by=self.actor,
            reason=reason or "",
        )
        values = {
            "mode": mode.value,
            "traffic_fraction": fraction,
            "epoch": new.epoch,
            "updated_at": new.updated_at,
            "updated_by": new.updated_by,
            "reason": new.reason,
        }
        where = (_TABLE.c.component == seen.component) & (_TABLE.c.epoch == seen.epoch)
        if conn.execute(update(_TABLE).where(where).values(**values)).rowcount != 1:
            exists = conn.execute(select(_TABLE.c.epoch).where(_TABLE.c.component == seen.component)).first()
            if exists is not None or seen.epoch != 0:
                raise _conflict(seen.component, seen.epoch, read_state(conn, seen.component))
            conn.execute(insert(_TABLE).values(component=seen.component, **values))
        if conn.dialect.name == "postgresql":
            # Delivered at commit: routers listening on the channel refresh without waiting for a poll.
            payload = f"{new.component}:{new.epoch}"
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": STATE_CHANNEL, "payload": payload}
            )
        return new

    def _audit(
        self,
        conn: Connection,
        action: str,
        before: ComponentState,
        after: ComponentState,
        reason: str,
        evidence: Evidence,
    ) -> None:
        append_entry(
            conn,
            component=before.component,
            action=action,
            actor=self.actor,
            reason=reason,
            evidence=evidence,
            from_mode=before.mode.value,
            to_mode=after.mode.value,
            from_fraction=before.traffic_fraction,
            to_fraction=after.traffic_fraction,
            epoch=after.epoch,
            at=after.updated_at if after is not before else None,
        )


def parse_percent(value: object) -> float:
    """A canary percent from a number or text ("5", "5%"); InvalidTrafficFraction names a bad one."""
    if isinstance(value, str):
        value = value.strip().removesuffix("%")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidTrafficFraction(f"traffic percent {value!r} is not a number in (0, 100)")
    try:
        percent = float(value)
    except ValueError:
        raise InvalidTrafficFraction(f"traffic percent {value!r} is not a number in (0, 100)") from None
    if 0.0 < percent < MIN_CANARY_PERCENT:
        raise InvalidTrafficFraction(
            f"traffic percent {value!r} rounds to 0: the smallest canary is {MIN_CANARY_PERCENT:g}% "
            "(one routing key in 10,000)"
        )
    return percent


def _conflict(component: str, expected_epoch: int, current: ComponentState) -> ConcurrentModification:
    return ConcurrentModification(
        f"{component} was changed by someone else first: expected epoch {expected_epoch}, found epoch "
        f"{current.epoch} (mode {current.mode.value!r}, {current.traffic_percent:g}% candidate traffic, "
        f"by {current.updated_by!r}); nothing was written; re-read the state and retry"
    )
