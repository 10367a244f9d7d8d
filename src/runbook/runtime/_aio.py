"""Running ``async def`` engines from synchronous code, on the calling thread's own event loop.

``Router.call`` (the sync API) and the router's worker threads run a coroutine with
``run_coroutine``: on an event loop owned by the thread that runs it (created on first use,
reused, closed when the thread ends, replaced if something closed it). No loop is shared, so
nothing a candidate does to a loop (raise ``SystemExit`` through it, stop it, block it with a
stray ``time.sleep``) reaches legacy, another caller, or a later call: a blocked loop holds only
the worker thread running it, which the router abandons and replaces like any hung worker.
A thread that is itself running a loop (a sync call made from inside a coroutine) runs the
coroutine on a short-lived thread of its own instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["DeadlinePassed", "is_async_callable", "run_coroutine"]

_local = threading.local()


class DeadlinePassed(TimeoutError):
    """The coroutine was cancelled at its deadline (not a TimeoutError of its own)."""


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for ``async def`` functions, partials of them, and objects with an async ``__call__``."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - the bound __call__ of a callable object
    return call is not None and inspect.iscoroutinefunction(call)


def run_coroutine(
    fn: Callable[..., Coroutine[Any, Any, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout_s: float | None = None,
) -> Any:
    """``await fn(*args, **kwargs)`` on this thread's own loop; its value, or its exception raised.

    With ``timeout_s`` (seconds) the coroutine is cancelled then and ``DeadlinePassed`` raised.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(_bounded(fn(*args, **kwargs), timeout_s))
    return _on_own_thread(fn, args, kwargs, timeout_s)


async def _bounded(coroutine: Coroutine[Any, Any, Any], timeout_s: float | None) -> Any:
    if timeout_s is None:
        return await coroutine
    scope = asyncio.timeout(timeout_s)
    try:
        async with scope:
            return await coroutine
    except TimeoutError:
        if scope.expired():
            raise DeadlinePassed(f"cancelled at its deadline of {timeout_s} s") from None
        raise


class _ThreadLoop:
    """One thread's event loop; closed when the thread's locals are dropped (the thread ended)."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if not self.loop.is_running():
                self.loop.close()


def _thread_loop() -> asyncio.AbstractEventLoop:
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _ThreadLoop()
        _local.holder = holder
    return holder.loop


def _on_own_thread(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   timeout_s: float | None) -> Any:  # fmt: skip
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run_coroutine(fn, args, kwargs, timeout_s)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below and raised there
            box["error"] = exc

    thread = threading.Thread(target=target, name="runbook-coroutine", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
