"""What ``runbook demo`` prints: the plan before it starts, and the summary table at the end.

The story is told by the console notifier (gates, steps, rollbacks) and this summary. Prefect's
console handlers are turned down for the demo (``quiet_prefect_console``); the Prefect run logs
keep everything (a deliberate stop as one line, ``runbook.orchestration.stops``).
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from runbook.domain.plans import ADR_HISTORICAL_SCENARIOS, ADR_MONTE_CARLO_SCENARIOS

if TYPE_CHECKING:
    from runbook._cli.demo import DemoOptions, DemoResult
    from runbook._cli.server import PrefectTarget
    from runbook.settings import Settings

__all__ = ["DemoConsoleFilter", "StopTracebackFilter", "hide_stop_tracebacks", "prepare_console",
           "print_summary", "quiet_prefect_console"]

_RUN_LOGGERS = frozenset({"prefect.flow_runs", "prefect.task_runs"})

_STATUS_STYLE = {"completed": "green", "held": "yellow", "rolled_back": "bold red", "failed": "bold red"}
_COLUMNS = ("component", "outcome", "final mode", "phases passed", "stopped at / check", "gates", "duration")


def prepare_console(
    settings: Settings, options: DemoOptions, *, prefect: PrefectTarget, faults: Mapping[str, str]
) -> Console:
    """Print what the demo will do, where its state and its Prefect runs are; the console to use."""
    from runbook.monitoring import calls_needed

    # A terminal's own width; piped output keeps whole table rows (nobody reads it at 80 columns).
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    if prefect.temporary and prefect.configured:
        console.print(Text(f"PREFECT_API_URL {prefect.configured} does not answer: using a temporary "
                           "local server", style="yellow"))
    v, o, t = options.validation, options.observation, options.thresholds
    lines = [
        "[bold]runbook demo[/]: ADR-0011 migration of "
        + ("every component in ADR order" if options.components == "all" else options.components),
        f"  state store   {settings.resolved_database_url}",
        f"  prefect       {_prefect_line(prefect)}",
        f"  validation    {v.historical:,} historical + {v.monte_carlo:,} Monte Carlo scenarios each "
        f"(demo size; the ADR asks {ADR_HISTORICAL_SCENARIOS:,} + {ADR_MONTE_CARLO_SCENARIOS:,})",
        f"  traffic       {o.window_s:g} s windows of replayed real requests at {o.rate_per_s:,.0f} calls/s "
        f"(the ADR's weeks, in seconds)",
        f"  thresholds    errors and mismatches <= {t.max_error_rate:.0%} at {t.confidence:.0%} confidence "
        f"(seconds-long windows: the ADR's 0.1% at 99% needs {calls_needed():,} clean calls a step)",
        f"                latency <= {t.max_latency_ratio:g}x legacy p50 (a call counts as slower only when "
        f"also > {t.min_latency_excess_us:g} us over it: rare calls at a 5% share run cold), "
        f"memory <= {t.max_memory_ratio:g}x, hedge effectiveness >= {t.min_hedge_effectiveness_ratio:g}x",
        "  gates         " + ("demo approvers (two on critical gates), channel demo" if options.auto_approve
                              else "answered here on the console; from another shell: "
                              f"{gates_command(settings.resolved_database_url, prefect.api_url)}"),
    ]
    if options.inject_fault:
        lines.append(f"  fault         candidate defect [bold]{options.inject_fault}[/] injected into "
                     f"{_fault_targets(options.components, faults)}: the runbook must catch it")
    console.print("\n".join(lines))
    return console


def _prefect_line(prefect: PrefectTarget) -> str:
    if not prefect.temporary:
        origin = "PREFECT_API_URL" if prefect.configured else "the server `runbook up` runs"
        ui = f"UI {prefect.ui_url}" if prefect.ui_url else "no UI answers"
        return f"{prefect.api_url} ({origin}; {ui})"
    return (f"Prefect's temporary local server at {prefect.api_url}, without a UI; its runs are kept in "
            f"{_prefect_database()}: `runbook up` shows them at {prefect.up_ui_url}")


def _prefect_database() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    text = url.get_secret_value() if url is not None else ""
    return text.split(":///", 1)[1] if text.startswith("sqlite") else "its database"


def _fault_targets(components: str, faults: Mapping[str, str]) -> str:
    names = ", ".join(faults)
    if components == "all" and len(faults) < 5:
        return f"{names} (the components with that defect; the others run their shipped candidate)"
    return names


def gates_command(database_url: str, api_url: str | None) -> str:
    """``runbook gates`` from another shell: the demo's store, and the Prefect server its runs are on."""
    prefect = f"PREFECT_API_URL={shlex.quote(api_url)} " if api_url else ""
    return prefect + _with_store(database_url, "runbook gates")


def _with_store(database_url: str, command: str) -> str:
    """A command line that reads the demo's store (also when RUNBOOK_DATABASE_URL is set)."""
    return f"RUNBOOK_DATABASE_URL={shlex.quote(database_url)} {command}"


def print_summary(
    console: Console, result: DemoResult, *, prefect: PrefectTarget | None = None
) -> None:
    """The summary table, what stopped, the exit code, the total duration, and where to look next:
    the HTML report, the audit log (a command that reads it), the Prefect runs."""
    from runbook.reports.migration import display_row

    table = Table(title="Migration summary", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for column in _COLUMNS:
        table.add_column(column, justify="right" if column == "duration" else "left")
    for row in result.rows:
        shown = display_row(row)
        style = _STATUS_STYLE.get(str(row["status"]), "")
        table.add_row(*(Text(shown[c], style=style if c == "outcome" else "") for c in _COLUMNS))
    console.print(table)
    for row in result.rows:
        if row["status"] not in ("completed", "not started"):
            console.print(_stop_line(row))
    console.print(f"Total: {result.seconds:.0f} s for {len(result.rows)} component(s); exit code "
                  f"{result.exit_code} ({_exit_meaning(result)})")
    console.print(f"HTML report: {result.report}")
    rows = f"{result.audit_rows} row{'' if result.audit_rows == 1 else 's'}"
    console.print(f"Audit log: {rows}, hash chain verified; inspect it with\n  "
                  + _with_store(result.database_url, "runbook audit --verify")
                  + "\n  (and `runbook status`, `runbook audit` with the same variable)")
    if prefect is not None:
        console.print(_runs_line(prefect, result.flow_run_id))
    server_log = result.home / "prefect-server.log"
    if server_log.is_file() and server_log.stat().st_size:
        console.print(f"Prefect's temporary server logged warnings or errors: {server_log}")


def _stop_line(row: Mapping[str, Any]) -> Text:
    from runbook.reports.migration import stop_check

    status = str(row["status"])
    where = f"in {row.get('phase') or 'migrate'} by {stop_check(row)}"
    text = Text(f"{row['component']} {status.replace('_', ' ')} {where}: ",
                style=_STATUS_STYLE.get(status, ""))
    text.append(str(row.get("reason") or "no reason recorded"))
    if row.get("report"):
        text.append(f" (report: {row['report']})")
    return text


def _exit_meaning(result: DemoResult) -> str:
    names = [str(r["component"]) for r in result.rows if r["status"] not in ("completed", "not started")]
    if result.exit_code == 0:
        return "every component reached full or retired"
    if result.exit_code == 3:
        return f"the runbook stopped {', '.join(names) or 'the migration'}"
    return (f"unexpected failure of {', '.join(names) or 'the migration'}; details in the Prefect run "
            "log of the migrate run and its phase runs")


def _runs_line(prefect: PrefectTarget, flow_run_id: str) -> str:
    if not flow_run_id:
        return "Prefect runs: none recorded"
    link = prefect.run_link(flow_run_id)
    if link:
        return f"Prefect runs: {link} (the migrate run; its phase runs are its subflows)"
    return (f"Prefect runs: migrate run {flow_run_id} (its phase runs are its subflows), on a server "
            f"without a UI; to see them in the Prefect UI, start `runbook up`, then open "
            f"{prefect.up_ui_url}/runs/flow-run/{flow_run_id}")


# ---- Prefect's console logging ---------------------------------------------------------------
class StopTracebackFilter(logging.Filter):
    """Drops a record carrying a stop the runbook made on purpose (Prefect's engine logs the
    exception that ends a stopped phase with its traceback). Unexpected errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        from runbook.orchestration.stops import is_stop

        return not is_stop(record)


class DemoConsoleFilter(StopTracebackFilter):
    """Also drops flow and task run messages below ERROR: the console notifier printed them
    already (it mirrors each one into the run log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in _RUN_LOGGERS and record.levelno < logging.ERROR:
            return False
        return super().filter(record)


@contextmanager
def quiet_prefect_console(level: int = logging.WARNING) -> Iterator[None]:
    """For the block, Prefect's console handlers show ``level`` and above, without stop tracebacks
    or notifier echoes (``DemoConsoleFilter``). Only the console: the run logs keep everything."""
    with _console_filter(DemoConsoleFilter(), level=level):
        yield


@contextmanager
def hide_stop_tracebacks() -> Iterator[None]:
    """For the block, Prefect's console handlers leave out the tracebacks of stopped phases."""
    with _console_filter(StopTracebackFilter(), level=logging.NOTSET):
        yield


@contextmanager
def _console_filter(console_filter: logging.Filter, *, level: int) -> Iterator[None]:
    handlers = _console_handlers()
    saved = [(handler, handler.level) for handler in handlers]
    for handler in handlers:
        handler.setLevel(max(handler.level, level))
        handler.addFilter(console_filter)
    try:
        yield
    finally:
        for handler, old_level in saved:
            handler.setLevel(old_level)
            handler.removeFilter(console_filter)


def _console_handlers() -> list[logging.Handler]:
    """Prefect's console handlers, on the root logger and on any other (uvicorn, fastapi)."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()  # Prefect configures logging lazily: make the handlers exist now

    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    found = {id(h): h for logger in loggers for h in logger.handlers if isinstance(h, PrefectConsoleHandler)}
    return list(found.values())
