"""What makes a rollback verified, and the retry loop around its attempts (no SQLAlchemy here).

Shared by ``emergency.verified_rollback`` (through the SQLAlchemy store) and
``fast_rollback`` (DB-API): each supplies one attempt (roll back, then read back on a fresh
connection); this module retries it with back-off while a whole further attempt fits before the
deadline, and decides what the read-back must show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runbook.domain.modes import LIVE_MODES
from runbook.domain.state import ComponentState
from runbook.errors import RollbackFailed, StoreMissing, StoreUnavailable

__all__ = ["Attempt", "RollbackReport", "check_read_back", "check_same_file", "retry_rollback"]

# (states before, states of the components rolled back, the read-back, the store as shown)
Attempt = tuple[dict[str, ComponentState], dict[str, ComponentState], dict[str, ComponentState], str]


@dataclass(frozen=True, slots=True)
class RollbackReport:
    """What a verified rollback did: states before, changed ones after, the read-back, notes."""

    before: Mapping[str, ComponentState]
    changed: Mapping[str, ComponentState]
    verified: Mapping[str, ComponentState]
    attempts: int
    notes: tuple[str, ...]
    store: str


def retry_rollback(
    target: str,
    attempt: Callable[[], Attempt],
    *,
    notes: Sequence[str],
    timeout_s: float,
    deadline_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> RollbackReport:
    """Run ``attempt`` until it succeeds, the store is missing, or no further attempt fits."""
    started = clock()
    # One attempt may take a connect timeout plus a statement timeout before it fails.
    attempt_budget = 2 * max(timeout_s, 2.0)
    count, delay = 0, 0.2
    while True:
        count += 1
        try:
            before, changed, verified, store = attempt()
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
                    f"rollback of {target} NOT DONE: {count} attempt(s) in {clock() - started:.1f} s "
                    f"failed; last: {exc}"
                ) from exc
            if on_retry is not None:
                on_retry(count, exc, delay)
            sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        return RollbackReport(before, changed, verified, count, tuple(notes), store)


def check_same_file(path: Path | None, written: object, read: object) -> None:
    """StoreUnavailable when the SQLite file read back is not the one written (replaced meanwhile)."""
    if read != written:
        raise StoreUnavailable(
            f"state store file {path} was replaced during the rollback: the file routers "
            "read now is not the one written"
        )


def check_read_back(
    names: list[str] | None, states: Mapping[str, ComponentState], shown: str
) -> dict[str, ComponentState]:
    """The read-back states of ``names`` (every component when None); StoreUnavailable if one is live."""
    check = names if names is not None else list(states)
    live = [f"{n} is {states[n].mode.value}" for n in check if states[n].mode in LIVE_MODES]
    if live:
        raise StoreUnavailable(f"read back from {shown}, the rollback is not there: {'; '.join(live)}")
    return {n: states[n] for n in check}
