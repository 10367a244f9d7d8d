"""What ``runbook demo`` prints: the plan before it starts, and the summary table at the end.

Prefect's own console logging is turned down to warnings (the run logs still reach the API);
the story is told by the console notifier (gates, steps, rollbacks) and this summary.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from runbook.domain.plans import ADR_HISTORICAL_SCENARIOS, ADR_MONTE_CARLO_SCENARIOS

if TYPE_CHECKING:
    from runbook.orchestration.demo import DemoOptions, DemoResult
    from runbook.settings import Settings

__all__ = ["prepare_console", "print_summary"]

_STATUS_STYLE = {"completed": "green", "held": "yellow", "rolled_back": "bold red", "failed": "bold red"}


def prepare_console(settings: Settings, options: DemoOptions) -> Console:
    """Quiet Prefect's console logs, pick the Prefect server, print what the demo will do."""
    from runbook.orchestration.server import api_healthy

    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    console = Console(highlight=False, soft_wrap=True)
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url and not api_healthy(api_url):
        console.print(f"[yellow]PREFECT_API_URL {api_url} does not answer: using a temporary local server[/]")
        del os.environ["PREFECT_API_URL"]
        api_url = None
    _quiet_prefect_console()
    v, o, t = options.validation, options.observation, options.thresholds
    lines = [
        "[bold]runbook demo[/]: ADR-0011 migration of "
        + ("every component in ADR order" if options.components == "all" else options.components),
        f"  state store   {settings.resolved_database_url}",
        f"  prefect       {api_url.removesuffix('/api') if api_url else 'temporary local server (no UI)'}",
        f"  validation    {v.historical:,} historical + {v.monte_carlo:,} Monte Carlo scenarios each "
        f"(demo size; the ADR asks {ADR_HISTORICAL_SCENARIOS:,} + {ADR_MONTE_CARLO_SCENARIOS:,})",
        f"  traffic       {o.window_s:g} s windows of replayed real requests at {o.rate_per_s:,.0f} calls/s "
        f"(the ADR's weeks, in seconds)",
        f"  thresholds    errors and mismatches <= {t.max_error_rate:.0%} at {t.confidence:.0%} confidence, "
        f"latency <= {t.max_latency_ratio:g}x legacy, memory <= {t.max_memory_ratio:g}x, "
        f"hedge effectiveness >= {t.min_hedge_effectiveness_ratio:g}x (scaled to seconds-long windows)",
        "  gates         " + ("demo approvers (two on critical gates), channel demo" if options.auto_approve
                              else "answered here on the console (or `runbook approve`)"),
    ]
    if options.inject_fault:
        lines.append(f"  fault         candidate defect [bold]{options.inject_fault}[/] injected: "
                     "the runbook must catch it")
    console.print("\n".join(lines))
    return console


def print_summary(console: Console, result: DemoResult, options: DemoOptions) -> None:
    """The summary table, the demo's duration and where the HTML report is."""
    table = Table(title="Migration summary", show_lines=False)
    for column in ("component", "status", "mode", "traffic", "stopped in", "by check", "why"):
        table.add_column(column, overflow="fold")
    for row in result.rows:
        status = row["status"]
        style = _STATUS_STYLE.get(status, "")
        stopped = status not in ("completed", "not started")
        table.add_row(
            row["component"], f"[{style}]{status}[/]" if style else status, row.get("mode", ""),
            f"{row.get('traffic_percent', 0):g}%", row.get("phase", "") if stopped else "",
            row.get("check", "") if stopped else "", _short(row.get("reason", "")) if stopped else "",
        )
    console.print(table)
    approvals = len(result.answered)
    console.print(f"gates answered: {approvals}; duration: {result.seconds:.0f} s; "
                  f"exit code {result.exit_code}")
    console.print(f"HTML report: {result.report}")
    console.print(f"state store and reports: {result.home}")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quiet_prefect_console() -> None:
    """Turn Prefect's console handlers down to warnings (in case Prefect configured logging already)."""
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("prefect"):
            for handler in logging.getLogger(name).handlers:
                if type(handler).__name__ == "PrefectConsoleHandler":
                    handler.setLevel(logging.WARNING)
