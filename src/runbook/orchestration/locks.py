"""One phase per component at a time: a Prefect global concurrency limit per component.

The limit ``runbook-phase-<component>`` (1 slot) is held with ``strict=True`` for the whole phase,
paused gates included: unlike a deployment's concurrency limit, a global limit's slot is not freed
while the run is paused. Its lease is renewed in the background while the flow waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from runbook.domain.components import catalog_components
from runbook.errors import ComponentBusy

PREFIX = "runbook-phase-"


def limit_name(component: str) -> str:
    """The global concurrency limit guarding ``component``'s phases."""
    return f"{PREFIX}{component}"


def ensure_phase_limits(components: Iterable[str] | None = None) -> list[str]:
    """Create (or reset to 1 slot) the phase limits of ``components`` (all by default)."""
    from prefect.client.orchestration import get_client

    names = [limit_name(str(c)) for c in (components or [c.value for c in catalog_components()])]
    with get_client(sync_client=True) as client:
        for name in names:
            client.upsert_global_concurrency_limit_by_name(name, 1)
    return names


@contextmanager
def phase_lock(component: str, *, phase: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold ``component``'s phase slot for the block, or raise ComponentBusy.

    ``wait_s`` 0 refuses at once when another phase holds the slot; a positive value waits up to
    that many seconds. The limit is created first if missing, so a fresh server works.
    """
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    name = limit_name(component)
    ensure_phase_limits([component])
    options = {"max_retries": 0} if wait_s <= 0 else {"timeout_seconds": wait_s}
    held = ExitStack()
    try:
        held.enter_context(concurrency(name, occupy=1, strict=True, **options))
    except (TimeoutError, ConcurrencySlotAcquisitionError) as exc:
        raise ComponentBusy(
            f"{component} is busy: another phase holds {name!r} (the {phase} phase was refused; "
            "one phase per component at a time). See the running or paused flow runs in the Prefect UI."
        ) from exc
    with held:
        yield
