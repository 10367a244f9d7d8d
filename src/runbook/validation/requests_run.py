"""Run legacy and candidate on the same requests, one call each, as production calls them.

Per request both callables get the request's keyword arguments; the order alternates so neither
engine always runs on a warm cache. Anything an engine raises, ``SystemExit`` included, is
recorded against that engine and request: validation goes on and the verdict is FAIL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runbook.engines.callables import EngineCallable
from runbook.scenarios.requests_file import Request

Fields = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EngineError:
    """An engine's exception on one request."""

    engine: str  # "legacy" / "candidate"
    path: str
    request_id: str
    error: str

    def describe(self) -> str:
        return f"{self.engine} engine {self.path!r} raised {self.error} on request {self.request_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Both engines on one request: flattened results (None when it raised) and seconds taken."""

    request: Request
    legacy: Fields | None
    candidate: Fields | None
    legacy_s: float
    candidate_s: float


@dataclass(frozen=True, slots=True)
class Run:
    """Every request's outcome and every engine error."""

    outcomes: tuple[Outcome, ...]
    errors: tuple[EngineError, ...] = field(default=())


def run_requests(
    legacy: EngineCallable,
    candidate: EngineCallable,
    requests: Sequence[Request],
    *,
    timer: Callable[[], float] = time.perf_counter,
) -> Run:
    """Call both engines on every request (alternating which goes first)."""
    loop = asyncio.new_event_loop() if legacy.is_async or candidate.is_async else None
    outcomes, errors = [], []
    try:
        for index, request in enumerate(requests):
            first, second = ("legacy", "candidate") if index % 2 == 0 else ("candidate", "legacy")
            got: dict[str, tuple[Fields | None, float]] = {}
            for role in (first, second):
                engine = legacy if role == "legacy" else candidate
                value, seconds, error = _one(engine, request, loop, timer)
                got[role] = (value, seconds)
                if error is not None:
                    errors.append(EngineError(role, engine.path, request.request_id, error))
            outcomes.append(Outcome(request, got["legacy"][0], got["candidate"][0], got["legacy"][1],
                                    got["candidate"][1]))  # fmt: skip
    finally:
        if loop is not None:
            loop.close()
    return Run(tuple(outcomes), tuple(errors))


def _one(
    engine: EngineCallable,
    request: Request,
    loop: asyncio.AbstractEventLoop | None,
    timer: Callable[[], float],
) -> tuple[Fields | None, float, str | None]:
    start = timer()
    try:
        value = engine.call(request.kwargs, loop, request.args)
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        return None, timer() - start, f"SystemExit (sys.exit({exc.code!r}))"
    except BaseException as exc:  # noqa: BLE001 - anything an engine raises is recorded against it and the request
        return None, timer() - start, f"{type(exc).__name__}: {exc}"
    seconds = timer() - start
    return flatten(value), seconds, None


def flatten(value: Any, prefix: str = "") -> Fields:
    """A result as flat fields: mappings and dataclasses by key, sequences by index, scalars as is.

    A bare number is the field ``value``; nested keys join with dots (``greeks.delta``).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out: Fields = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, np.ndarray | list | tuple):
        out = {}
        for i, item in enumerate(np.asarray(value, dtype=object).ravel().tolist()):
            out.update(flatten(item, f"{prefix or 'value'}[{i}]"))
        return out
    return {prefix or "value": _scalar(value)}


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.number):
        return float(value)
    return value if value is None or isinstance(value, str) else repr(value)


def within(old: Any, new: Any, *, rel: float, abs_: float) -> tuple[bool, float, float]:
    """Whether ``new`` agrees with ``old``: numbers within ``rel * |old| + abs_`` (NaN only with NaN),
    anything else equal. Also the absolute and relative differences (NaN when not numbers)."""
    if isinstance(old, float) and isinstance(new, float):
        if math.isnan(old) or math.isnan(new):
            return math.isnan(old) and math.isnan(new), math.nan, math.nan
        diff = abs(new - old)
        relative = diff / abs(old) if old else (0.0 if diff == 0 else math.inf)
        return diff <= rel * abs(old) + abs_, diff, relative
    return old == new, math.nan, math.nan
