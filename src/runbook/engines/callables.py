"""Load a catalog engine: the single-request callable at ``module:attribute``, sync or async.

``attribute`` may be the callable itself, a class whose zero-argument instance is callable, or a
zero-argument factory returning the callable. Importing runs the firm's code, so anything it
raises, ``SystemExit`` included, becomes one ``BadEngine`` line naming the engine (exit 2).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.errors import BadEngine

__all__ = ["EngineCallable", "load_callable", "wrap_callable"]


@dataclass(frozen=True, slots=True)
class EngineCallable:
    """One engine's single-request callable, with where it came from (for reports)."""

    path: str
    function: Callable[..., Any]
    module_file: str | None
    sha256: str | None
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", _is_async(self.function))

    def describe(self) -> dict[str, str | None]:
        """Import path, module file and its SHA-256."""
        return {"path": self.path, "module_file": self.module_file, "sha256": self.sha256}

    def accepts(self, name: str) -> bool:
        """True if the callable takes a keyword argument ``name`` (or any keywords)."""
        try:
            params = inspect.signature(self.function).parameters.values()
        except (TypeError, ValueError):
            return True
        return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)

    def call(
        self,
        request: Mapping[str, Any],
        loop: asyncio.AbstractEventLoop | None = None,
        args: tuple[Any, ...] = (),
    ) -> Any:
        """The result of one request, passed as keyword arguments (async engines run on ``loop``)."""
        value = self.function(*args, **request)
        if inspect.isawaitable(value):
            if loop is None:
                return asyncio.run(_await(value))
            return loop.run_until_complete(_await(value))
        return value


async def _await(value: Any) -> Any:
    return await value


def _is_async(function: Any) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - an instance with an async __call__
    )


def load_callable(path: str, *, role: str, component: str, search_dir: Path | None = None) -> EngineCallable:
    """The ``role`` ("legacy" / "candidate") engine of ``component`` at ``path``; BadEngine if unusable.

    ``search_dir`` (the catalog's folder) is put on ``sys.path`` first, so a catalog beside the
    firm's modules imports them wherever the command runs.
    """
    where = f"{role} engine {path!r} of {component}"
    if search_dir is not None and str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
    module_name, sep, attribute = str(path).partition(":")
    if not sep or not module_name or not attribute:
        raise BadEngine(f"{where}: the path must look like 'package.module:attribute'")
    module = _import(module_name, where)
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise BadEngine(f"{where}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    function = _build(target, where)
    file = getattr(module, "__file__", None)
    return EngineCallable(str(path), function, file, _sha256(file))


def wrap_callable(path: str, function: Callable[..., Any], module_file: str | None) -> EngineCallable:
    """An EngineCallable of a function already built (e.g. a shipped engine behind plain keywords)."""
    return EngineCallable(path, function, module_file, _sha256(module_file))


def _import(module_name: str, where: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise BadEngine(f"{where}: importing {module_name!r} called sys.exit({exc.code!r})") from None
    except BaseException as exc:  # noqa: BLE001 - the firm's module may raise anything on import: one BadEngine line
        raise BadEngine(f"{where}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None


def _build(target: Any, where: str) -> Callable[..., Any]:
    """Classes and zero-parameter functions are factories; anything else callable is the engine."""
    if not callable(target):
        raise BadEngine(f"{where}: {type(target).__name__} is not callable")
    if not (inspect.isclass(target) or _takes_nothing(target)):
        return target
    try:
        built = target()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the firm's factory may raise anything: one BadEngine line
        raise BadEngine(f"{where}: the factory failed: {type(exc).__name__}: {exc}") from None
    if not callable(built):
        raise BadEngine(f"{where}: the factory returned {type(built).__name__}, which is not callable")
    return built


def _takes_nothing(function: Any) -> bool:
    try:
        return not inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _sha256(file: str | None) -> str | None:
    if not file or not Path(file).is_file():
        return None
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()
