"""A verified rollback within a deadline: what ``runbook rollback`` and the emergency script run.

Each attempt opens the store (never creating a missing SQLite file), rolls back in one exclusive
transaction, then reads the state back on a fresh connection. Success means the read-back shows no
rolled-back component in a live mode *and* came from the same store file that was written (the file
at the path, which is what routers read). An attempt that finds the store unavailable is retried
with back-off while a whole further attempt still fits before the deadline; after that
``RollbackFailed`` says what happened. Every store access is bounded by ``timeout_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from runbook.control.safety import ProductionSafetyManager, clip_rollback_input
from runbook.control.store import Store
from runbook.domain.components import ALL_COMPONENTS_ALIAS, parse_component
from runbook.domain.modes import LIVE_MODES
from runbook.domain.state import ComponentState
from runbook.errors import RollbackFailed, StoreMissing, StoreUnavailable

__all__ = ["RollbackReport", "verified_rollback"]


@dataclass(frozen=True, slots=True)
class RollbackReport:
    """What a verified rollback did: states before, changed ones after, the read-back, notes."""

    before: Mapping[str, ComponentState]
    changed: Mapping[str, ComponentState]
    verified: Mapping[str, ComponentState]
    attempts: int
    notes: tuple[str, ...]
    store: str


def verified_rollback(
    url: str,
    target: str,
    *,
    actor: str,
    reason: str,
    timeout_s: float,
    deadline_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> RollbackReport:
    """Roll ``target`` (a component or ``all_components``) back and verify it; see the module docstring."""
    names = None if target == ALL_COMPONENTS_ALIAS else [parse_component(target).value]
    actor, reason, notes = clip_rollback_input(actor, reason)
    started = clock()
    # One attempt may take a connect timeout plus a statement timeout before it fails.
    attempt_budget = 2 * max(timeout_s, 2.0)
    attempt, delay = 0, 0.2
    while True:
        attempt += 1
        try:
            before, changed, verified, store = _attempt(url, names, actor, reason, timeout_s)
        except StoreMissing as exc:
            raise RollbackFailed(
                f"rollback of {target} NOT DONE: {exc}; routers reading that path serve legacy once "
                "their state is older than max_staleness_s; restore the file (or create an empty store "
                "with `runbook db upgrade`)"
            ) from exc
        except StoreUnavailable as exc:
            left = deadline_s - (clock() - started)
            if left < attempt_budget + delay:
                raise RollbackFailed(
                    f"rollback of {target} NOT DONE: {attempt} attempt(s) in {clock() - started:.1f} s "
                    f"failed; last: {exc}"
                ) from exc
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        return RollbackReport(before, changed, verified, attempt, tuple(notes), store)


def _attempt(
    url: str, names: list[str] | None, actor: str, reason: str, timeout_s: float
) -> tuple[dict[str, ComponentState], dict[str, ComponentState], dict[str, ComponentState], str]:
    with Store.from_url(url, timeout_s=timeout_s, create=False) as store:
        before = store.states()
        manager = ProductionSafetyManager(store, actor=actor)
        if names is None:
            changed = {s.component: s for s in manager.rollback_all(reason=reason)}
        else:
            changed = {n: manager.rollback_component(n, reason=reason) for n in names}
        written = store.file_identity
        shown = store.display_url
    with Store.from_url(url, upgrade=False, timeout_s=timeout_s, create=False) as fresh:
        states = fresh.states()
        if fresh.file_identity != written:
            raise StoreUnavailable(
                f"state store file {fresh.sqlite_file} was replaced during the rollback: the file routers "
                "read now is not the one written"
            )
    check = names if names is not None else list(states)
    live = [f"{n} is {states[n].mode.value}" for n in check if states[n].mode in LIVE_MODES]
    if live:
        raise StoreUnavailable(f"read back from {shown}, the rollback is not there: {'; '.join(live)}")
    return before, changed, {n: states[n] for n in check}, shown
