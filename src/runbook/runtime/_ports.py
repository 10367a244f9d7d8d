"""The ports of the runtime: where routing state comes from, where observations and captured requests go.

Control's SQL ``Store`` and ``ObservationStore`` fit them; ``runbook.runtime.memory`` ships
in-memory fakes for tests and demos.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from runbook.domain.capture import CapturedRequest
from runbook.domain.observation import Observation
from runbook.domain.state import ComponentState

__all__ = ["CaptureSink", "ObservationSink", "StateSource"]


@runtime_checkable
class StateSource(Protocol):
    """Anything that answers every component's routing state.

    It may also offer ``epoch_signature()`` (a cheap value that changes whenever any state
    changes); routers then call ``states()`` only when the signature moved. And it may offer
    ``subscribe(callback) -> unsubscribe``: a push that calls ``callback()`` whenever the state may
    have changed; routers then refresh at once, and keep polling as the fallback.
    """

    def states(self) -> Mapping[str, ComponentState]: ...


@runtime_checkable
class ObservationSink(Protocol):
    """Anything that stores a batch of observations and returns how many it stored."""

    def write_batch(self, observations: Sequence[Observation]) -> int: ...


@runtime_checkable
class CaptureSink(Protocol):
    """Anything that stores a batch of captured requests and returns how many it stored."""

    def write_captures(self, captures: Sequence[CapturedRequest]) -> int: ...
