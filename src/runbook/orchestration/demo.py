"""``runbook demo``: the whole runbook on embedded defaults, in a few minutes.

A fresh SQLite store under ``RUNBOOK_HOME/demo/<time>/``, the bundled engines and market history,
replayed traffic, windows of seconds, a smaller offline validation, and gates answered by a console
prompt or by two demo approvers (``--auto-approve``; recorded with channel ``demo``). Prefect is
the configured server when one answers, else Prefect's temporary local server.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.domain.components import Component
from runbook.orchestration.params import GateOptions, ObservationOptions, ThresholdOptions, ValidationOptions
from runbook.settings import Settings

__all__ = ["DEMO_INITIATOR", "DemoOptions", "DemoResult", "demo_settings", "run_demo"]

DEMO_INITIATOR = "demo-operator"
EXIT_OK, EXIT_FAILED, EXIT_STOPPED = 0, 1, 3
DONE_MODES = frozenset({"full", "retired"})

# Windows of seconds instead of weeks: the error and mismatch limits are scaled to what a
# 3-second window can show (the ADR's 0.1% at 99% needs 4,603 clean calls per window), and the
# latency limit allows for the cold-path cost of microsecond engines at a 5% share on a shared
# machine. Every other trigger keeps the ADR's value.
DEMO_THRESHOLDS = ThresholdOptions(
    max_error_rate=0.02, max_mismatch_rate=0.02, confidence=0.90, min_observations=100, max_latency_ratio=6.0,
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What the demo runs: which components, sizes, windows, who approves."""

    components: str = "all"
    auto_approve: bool = False
    inject_fault: str | None = None
    validation: ValidationOptions = field(
        default_factory=lambda: ValidationOptions(historical=2_000, monte_carlo=20_000))
    observation: ObservationOptions = field(
        default_factory=lambda: ObservationOptions(window_s=3.0, rate_per_s=1_000.0, max_extensions=2))
    gate: GateOptions = field(default_factory=lambda: GateOptions(timeout_s=600.0, poll_interval_s=1))
    thresholds: ThresholdOptions = DEMO_THRESHOLDS


@dataclass(frozen=True, slots=True)
class DemoResult:
    """The migration rows, the exit code they mean, the report and how long it all took."""

    rows: tuple[dict[str, Any], ...]
    exit_code: int
    report: Path
    seconds: float
    home: Path
    answered: tuple[tuple[str, str, str], ...] = ()


def demo_settings(settings: Settings, *, now: datetime | None = None) -> Settings:
    """The demo's own settings: a fresh SQLite store under RUNBOOK_HOME/demo/<time>, console only.

    A configured database or Slack workspace is never touched by the demo.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    home = (settings.home / "demo" / stamp).resolve()
    return settings.model_copy(update={
        "home": home, "database_url": None, "slack_bot_token": None, "slack_bot_token_block": None,
        "approvers": {},
    })


def exit_code(rows: Sequence[Mapping[str, Any]]) -> int:
    """0 when every component reached full or retired; 3 when the runbook stopped one; 1 otherwise."""
    if any(row["status"] == "failed" for row in rows):
        return EXIT_FAILED
    if all(row["status"] == "completed" and row.get("mode") in DONE_MODES for row in rows):
        return EXIT_OK
    return EXIT_STOPPED


def run_demo(settings: Settings, options: DemoOptions, *, chooser: Any) -> DemoResult:
    """Run ``migrate`` in this process with an in-process approver; the result and its exit code."""
    from flows.migrate import migrate
    from runbook.domain.gates import Channel
    from runbook.orchestration.approvers import BackgroundApprover
    from runbook.orchestration.context import close_stores, open_store, settings_scope
    from runbook.orchestration.report import write_migration_report

    started = time.monotonic()
    channel = Channel.DEMO if options.auto_approve else Channel.CONSOLE
    connect_prefect()
    with settings_scope(settings):
        store = open_store(settings)
        with BackgroundApprover(store, chooser, channel=channel) as approver:
            state = migrate(
                initiator=DEMO_INITIATOR, component=options.components, validation=options.validation,
                observation=options.observation, gate=options.gate, thresholds=options.thresholds,
                inject_fault=options.inject_fault, return_state=True,
            )
        rows = _rows(state, options)
        components = [row["component"] for row in rows]
        report = write_migration_report(store, settings.reports_dir / "demo-migration-report.html",
                                        title="runbook demo: ADR-0011 migration", components=components,
                                        summary=rows)
        close_stores()
    return DemoResult(tuple(rows), exit_code(rows), report.resolve(), time.monotonic() - started,
                      settings.home, tuple(approver.answered))


def connect_prefect() -> None:
    """Reach the Prefect API once from this thread before any other thread does.

    Without PREFECT_API_URL the first client starts Prefect's temporary server; two threads doing
    that at once would start two and leave one running after exit.
    """
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.api_healthcheck()


def _rows(state: Any, options: DemoOptions) -> list[dict[str, Any]]:
    result = state.result(raise_on_failure=False)
    if isinstance(result, list):
        return result
    names = [c.value for c in Component] if options.components == "all" else [options.components]
    reason = state.message or str(result)
    return [{"component": name, "status": "failed", "phase": "migrate", "check": "run", "reason": reason,
             "mode": "", "traffic_percent": 0.0} for name in names]
