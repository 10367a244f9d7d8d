"""A verified rollback within a deadline: what ``runbook rollback`` and the emergency script run.

Each attempt opens the store (never creating a missing SQLite file), rolls back in one exclusive
transaction, then reads the state back on a fresh connection. Success means the read-back shows no
rolled-back component in a live mode *and* came from the same store file that was written (the file
at the path, which is what routers read). An attempt that finds the store unavailable is retried
with back-off while a whole further attempt still fits before the deadline; after that
``RollbackFailed`` says what happened (``_verify``). Every store access is bounded by ``timeout_s``.
``runbook rollback`` itself usually takes ``fast_rollback``, the same rollback on the DB-API.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runbook.control._limits import clip_rollback_input
from runbook.control._verify import Attempt, RollbackReport, check_read_back, check_same_file, retry_rollback
from runbook.control.safety import ProductionSafetyManager
from runbook.control.store import Store
from runbook.domain.components import ALL_COMPONENTS_ALIAS, parse_component

__all__ = ["RollbackReport", "verified_rollback"]


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
    return retry_rollback(
        target, lambda: _attempt(url, names, actor, reason, timeout_s), notes=notes, timeout_s=timeout_s,
        deadline_s=deadline_s, clock=clock, sleep=sleep, on_retry=on_retry,
    )  # fmt: skip


def _attempt(url: str, names: list[str] | None, actor: str, reason: str, timeout_s: float) -> Attempt:
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
        check_same_file(fresh.sqlite_file, written, fresh.file_identity)
    return before, changed, check_read_back(names, states, shown), shown
