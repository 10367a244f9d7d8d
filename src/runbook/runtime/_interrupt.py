"""Telling a candidate's BaseException from a real interrupt of the service process.

A candidate may raise anything: ``SystemExit``, ``KeyboardInterrupt``, ``CancelledError`` or a
``BaseException`` of its own. Those are the candidate's failures and are contained. But a signal
(Ctrl-C, or a service's own SIGTERM handler raising) must still stop the service, even when it
lands while a candidate runs on the caller's thread (``inline`` isolation).

Python runs signal handlers only in the main thread, so on any other thread (candidate and shadow
workers) every exception is the candidate's. On the main thread an exception is a real interrupt
when its traceback passes through a Python signal handler, or when it is a ``KeyboardInterrupt``
under the default SIGINT handler that was not raised by a ``raise`` statement (the default handler
raises it at whatever instruction the interpreter was running, usually a call).
"""

from __future__ import annotations

import signal
import threading
from types import CodeType, TracebackType

__all__ = ["is_process_interrupt"]


def is_process_interrupt(exc: BaseException) -> bool:
    """True when ``exc`` was raised by a signal delivered to this process (see the module docstring)."""
    if isinstance(exc, Exception) or threading.current_thread() is not threading.main_thread():
        return False
    frames = _traceback_frames(exc.__traceback__)
    handlers = _python_signal_handlers()
    if any(tb.tb_frame.f_code in handlers for tb in frames):
        return True
    if isinstance(exc, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        return not frames or not _at_raise_statement(frames[-1])
    return False


def _traceback_frames(tb: TracebackType | None) -> list[TracebackType]:
    frames: list[TracebackType] = []
    while tb is not None and len(frames) < 1000:
        frames.append(tb)
        tb = tb.tb_next
    return frames


def _python_signal_handlers() -> set[CodeType]:
    codes: set[CodeType] = set()
    for number in signal.valid_signals():
        try:
            handler = signal.getsignal(number)
        except (ValueError, OSError):
            continue
        function = getattr(handler, "__func__", handler)  # a bound method's function
        code = getattr(function, "__code__", None)
        if isinstance(code, CodeType):
            codes.add(code)
    return codes


def _at_raise_statement(tb: TracebackType) -> bool:
    import dis  # only when an interrupt-like exception reached a candidate wrapper on the main thread

    code = tb.tb_frame.f_code.co_code
    if not 0 <= tb.tb_lasti < len(code):
        return False
    return dis.opname[code[tb.tb_lasti]] in ("RAISE_VARARGS", "RERAISE")
