"""Engines for the process-isolation tests, importable by the spawned workers (module-level callables).

Written as an outside service would write them: plain functions, no runbook import.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np

LEAKED: list[bytearray] = []
ROWS = 64


def legacy(x: float) -> float:
    """The engine in production: a plain number."""
    return 2.0 * x


def candidate(x: float) -> float:
    """A good candidate: agrees with legacy."""
    return 2.0 * x


async def async_candidate(x: float) -> float:
    """A good async candidate."""
    await asyncio.sleep(0)
    return 2.0 * x


def array_sum(values: np.ndarray) -> float:
    """Sums an array it receives (checks arrays cross intact)."""
    return float(values.sum())


def killed_by_signal(x: float) -> float:
    """Its worker is killed outright (what the kernel's OOM killer does)."""
    os.kill(os.getpid(), signal.SIGKILL)
    return x


def segfaults(x: float) -> float:
    """A C extension's crash: the worker takes a segmentation fault."""
    os.kill(os.getpid(), signal.SIGSEGV)
    return x


def exits(x: float) -> float:
    """Leaves the interpreter without a word."""
    os._exit(3)


def raises_system_exit(x: float) -> float:
    raise SystemExit(1)


def hangs(x: float) -> float:
    time.sleep(3600)
    return x


def returns_none(x: float) -> None:
    return None


def hogs(x: float) -> float:
    """Allocates 2 GiB at once: past any cap the tests set."""
    block = bytearray(2 << 30)
    return float(len(block))


def leaks(x: float) -> float:
    """Keeps 64 MiB more on every call (a cache that never evicts)."""
    LEAKED.append(bytearray(64 << 20))
    return 2.0 * x


def allocating(scale: float):
    """Returns a function allocating ``scale`` x a fixed working array per call."""
    return _Allocating(scale)


class _Allocating:
    def __init__(self, scale: float) -> None:
        self.size = int(ROWS * 1024 * scale)

    def __call__(self, x: float) -> float:
        work = np.ones(self.size, dtype=np.float64)  # the per-call working set
        return 2.0 * x + float(work[0]) - 1.0


def faulty(x: float, fault: str = "none") -> float | None:
    """A candidate whose behaviour the caller picks per call (one worker pool serves every fault)."""
    return _FAULTS[fault](x)


async def afaulty(x: float, fault: str = "none") -> float | None:
    """``faulty`` as an ``async def`` candidate (run on the worker's own event loop)."""
    await asyncio.sleep(0)
    return _FAULTS[fault](x)


def legacy_of_faulty(x: float, fault: str = "none") -> float:
    """Legacy for ``faulty``: never fails, whatever the fault argument says."""
    return 2.0 * x


def _raises(x: float) -> float:
    raise ValueError(f"no answer for {x}")


_FAULTS = {
    "none": candidate,
    "poison": candidate,  # behaves: only PickyJsonSerializer fails on such a request
    "raises": _raises,
    "system_exit": raises_system_exit,
    "returns_none": returns_none,
    "nan": lambda x: float("nan"),
    "wrong": lambda x: 2.0 * x + 1.0,
    "hangs": hangs,
    "killed_by_signal": killed_by_signal,
    "segfaults": segfaults,
    "exits": exits,
    "hogs": hogs,
}
Same = allocating(1.0)  # legacy's footprint, by import path


class JsonSerializer:
    """A service's own wire format: requests and results as JSON text (one frame); counts its dumps."""

    def __init__(self) -> None:
        self.dumped = 0

    def dumps(self, obj: object) -> list[bytes]:
        import json

        self.dumped += 1
        if isinstance(obj, tuple):  # a reply carrying an exception: its text
            obj = tuple(repr(item) if isinstance(item, BaseException) else item for item in obj)
        return [json.dumps(obj).encode()]

    def loads(self, frames: list[bytes]) -> object:
        import json

        return json.loads(bytes(frames[0]))


class PickyJsonSerializer(JsonSerializer):
    """``JsonSerializer`` with a bug of the service's own: it writes a request that mentions
    "poison" but cannot read it back (in the worker)."""

    def loads(self, frames: list[bytes]) -> object:
        if b"poison" in bytes(frames[0]):
            raise ValueError("a request this serializer cannot read back")
        return super().loads(frames)
