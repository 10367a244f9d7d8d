"""In-memory ports for tests, demos and services without a database.

``InMemoryStateSource`` answers component states and can be switched unreachable;
``InMemorySink`` keeps written observations in a list and can be made to fail;
``InMemoryCaptureSink`` does the same for captured requests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from runbook.domain.capture import CapturedRequest
from runbook.domain.components import catalog_components, parse_component
from runbook.domain.modes import Mode
from runbook.domain.observation import Observation
from runbook.domain.state import ComponentState
from runbook.errors import BadParameter, StoreUnavailable

__all__ = ["InMemoryCaptureSink", "InMemorySink", "InMemoryStateSource"]

# The candidate's share implied by each mode; canary takes its own fraction.
_FRACTION_OF_MODE = {
    Mode.LEGACY: 0.0, Mode.SHADOW: 0.0, Mode.ROLLED_BACK: 0.0, Mode.FULL: 1.0, Mode.RETIRED: 1.0,
}  # fmt: skip


class InMemoryStateSource:
    """Component states held in memory; every component starts in legacy at epoch 0.

    ``set_mode`` moves a component (any move: this fake does not enforce the state machine,
    control's ProductionSafetyManager does) and increments its epoch. ``available = False``
    makes ``states()`` raise ``StoreUnavailable``, as a stopped database would.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states = {c.value: ComponentState.initial(c.value) for c in catalog_components()}
        self.available = True
        self.reads = 0

    def states(self) -> Mapping[str, ComponentState]:
        """Every component's state (a copy); raises StoreUnavailable while unavailable."""
        self._check()
        with self._lock:
            self.reads += 1
            return dict(self._states)

    def state(self, component: str) -> ComponentState:
        """One component's state."""
        name = parse_component(component).value
        return self.states().get(name) or ComponentState.initial(name)

    def epoch_signature(self) -> tuple[int, ...]:
        """The epochs of every component, in catalog order: changes whenever a state changes."""
        self._check()
        with self._lock:
            return tuple(state.epoch for state in self._states.values())

    def set_mode(
        self, component: str, mode: Mode | str, *, traffic_fraction: float | None = None, reason: str = ""
    ) -> ComponentState:
        """Put ``component`` in ``mode`` (canary needs ``traffic_fraction`` in (0, 1)); new epoch."""
        name, target = parse_component(component).value, Mode(mode)
        fraction = _FRACTION_OF_MODE.get(target) if target is not Mode.CANARY else traffic_fraction
        if fraction is None or (target is Mode.CANARY and not 0.0 < fraction < 1.0):
            raise BadParameter(f"canary needs traffic_fraction in (0, 1); got {traffic_fraction!r}")
        with self._lock:
            before = self._states.get(name) or ComponentState.initial(name)
            state = ComponentState(
                component=name, mode=target, traffic_fraction=fraction,
                epoch=before.epoch + 1, updated_at=datetime.now(UTC),
                updated_by="in-memory", reason=reason,
            )  # fmt: skip
            self._states[name] = state
            return state

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("in-memory state source switched unavailable")


class InMemorySink:
    """Keeps every written observation; ``failing = True`` makes ``write_batch`` raise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observations: list[Observation] = []
        self.batches: list[int] = []
        self.failing = False

    def write_batch(self, observations: Sequence[Observation]) -> int:
        """Store a batch; returns its size. Raises StoreUnavailable while ``failing``."""
        if self.failing:
            raise StoreUnavailable("in-memory sink switched failing")
        with self._lock:
            self._observations.extend(observations)
            self.batches.append(len(observations))
        return len(observations)

    @property
    def observations(self) -> list[Observation]:
        """A copy of everything written so far, in write order."""
        with self._lock:
            return list(self._observations)


class InMemoryCaptureSink:
    """Keeps every written captured request; ``failing = True`` makes ``write_captures`` raise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._captures: list[CapturedRequest] = []
        self.failing = False

    def write_captures(self, captures: Sequence[CapturedRequest]) -> int:
        """Store a batch; returns its size. Raises StoreUnavailable while ``failing``."""
        if self.failing:
            raise StoreUnavailable("in-memory capture sink switched failing")
        with self._lock:
            self._captures.extend(captures)
        return len(captures)

    @property
    def captures(self) -> list[CapturedRequest]:
        """A copy of everything written so far, in write order."""
        with self._lock:
            return list(self._captures)
