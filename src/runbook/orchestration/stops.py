"""Deliberate stops read as one line in a run's log, not as a crash.

When the runbook stops a phase on purpose (a monitor hold or rollback, a rejection, a timeout, a
refused start, a bad parameter), the exception that ends the run carries the whole reason in its
message. Prefect's engine logs it with its traceback, which tells an approver nothing and looks like
a crash in the UI. ``one_line_stops`` drops that traceback from the records sent to the run's log
(Prefect's API log handler) and keeps the exception on the record as ``runbook_stop``, so console
filters and tests still recognise it; unexpected errors keep their tracebacks.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from runbook.errors import (
    AutomaticRollback,
    ComponentBusy,
    GateRejected,
    GateTimedOut,
    PhaseStartRefused,
    UserInputError,
    ValidationFailed,
)

__all__ = ["STOP_ERRORS", "OneLineStop", "is_stop", "one_line_stops"]

# What a phase raises when the runbook stops it on purpose (PhaseRun.stop): an outcome, not a crash.
STOP_ERRORS = (AutomaticRollback, GateRejected, GateTimedOut, ValidationFailed, PhaseStartRefused,
               ComponentBusy, UserInputError)
_MARK = "runbook_stop"
# Stops remembered per handler to drop the engine's repeat of one (a process runs few runs at once).
_REMEMBERED_STOPS = 256


def is_stop(record: logging.LogRecord) -> bool:
    """True for a record about a deliberate stop (before or after ``OneLineStop`` saw it)."""
    error = record.exc_info[1] if record.exc_info else None
    return isinstance(error, STOP_ERRORS) or isinstance(getattr(record, _MARK, None), STOP_ERRORS)


class OneLineStop(logging.Filter):
    """Keeps a deliberate stop's record, without its traceback: ``Stopped: <the reason>``.

    Prefect's engine logs the exception that ends a run more than once (when the flow raises, and
    again once the run is Failed); a run's log keeps the first ``Stopped:`` line of each stop only.
    """

    def __init__(self) -> None:
        super().__init__()
        self._stopped: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, STOP_ERRORS):
            run = getattr(record, "flow_run_id", None)
            if run is not None:
                key = (str(run), type(error).__name__, str(error))
                if key in self._stopped:
                    return False
                self._stopped[key] = None
                while len(self._stopped) > _REMEMBERED_STOPS:
                    self._stopped.popitem(last=False)
            record.msg, record.args = f"Stopped: {error}", ()
            record.exc_info, record.exc_text = None, None
            setattr(record, _MARK, error)
        return True


def one_line_stops() -> None:
    """Install ``OneLineStop`` on this process's Prefect run-log handlers (once; safe to repeat)."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import APILogHandler

    ensure_logging_setup()
    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            installed = any(isinstance(f, OneLineStop) for f in handler.filters)
            if isinstance(handler, APILogHandler) and not installed:
                handler.addFilter(OneLineStop())
