"""``runbook demo``: the whole runbook on embedded defaults, in a few minutes.

A fresh SQLite store under ``RUNBOOK_HOME/demo/<time>/``, the bundled engines and market history,
replayed traffic, windows of seconds, a smaller offline validation, and gates answered by a console
prompt or by two demo approvers (``--auto-approve``; recorded with channel ``demo``). Prefect is
the configured server (PREFECT_API_URL) when it answers, else the one ``runbook up`` runs when it
answers, else Prefect's temporary local server (no UI; its own log goes to the demo's folder).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook._cli.server import PrefectTarget
from runbook.domain.components import Component
from runbook.errors import BadParameter
from runbook.orchestration.params import GateOptions, ObservationOptions, ThresholdOptions, ValidationOptions
from runbook.settings import Settings

__all__ = [
    "DEMO_INITIATOR", "DemoOptions", "DemoResult", "demo_faults", "demo_settings", "prefect_for_demo",
    "run_demo",
]

DEMO_INITIATOR = "demo-operator"
EXIT_OK, EXIT_FAILED, EXIT_STOPPED = 0, 1, 3
DONE_MODES = frozenset({"full", "retired"})

# Windows of seconds instead of weeks: the error and mismatch limits are scaled to what a
# 3-second window can show (the ADR's 0.1% at 99% needs 4,603 clean calls per window). Latency
# keeps the ADR's 1.2x legacy p50; a call counts as slower only when it is also materially slower,
# by more than DEMO_LATENCY_EXCESS_US. At a 5% share the candidate's calls come between about
# twenty legacy calls, which evict its code and data from the CPU caches: var_engine's and
# correlation_analyzer's candidates (20-50 us warm) measure 100-140 us over legacy's warm p50 even
# inline on an idle machine, and equal to it at 25% and 50%. Their `slow` variant (6x) measures
# 250 us over at 25% and 360-440 us at 5%. Every other trigger keeps the ADR's value.
DEMO_LATENCY_EXCESS_US = 200.0
DEMO_THRESHOLDS = ThresholdOptions(
    max_error_rate=0.02, max_mismatch_rate=0.02, confidence=0.90, min_observations=100,
    min_latency_excess_us=DEMO_LATENCY_EXCESS_US,
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
    """The migration rows, the exit code they mean, the report and how long it all took.

    Each row is ``migrate``'s plus its story from the audit log (``report.component_story``);
    ``audit_rows`` is how many audit rows verified; ``flow_run_id`` is the ``migrate`` run's.
    """

    rows: tuple[dict[str, Any], ...]
    exit_code: int
    report: Path
    seconds: float
    home: Path
    answered: tuple[tuple[str, str, str], ...] = ()
    database_url: str = ""
    audit_rows: int = 0
    flow_run_id: str = ""


def demo_settings(settings: Settings, *, now: datetime | None = None) -> Settings:
    """The demo's own settings: a fresh SQLite store under RUNBOOK_HOME/demo/<time>, console only.

    A configured database or Slack workspace is never touched by the demo.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    home = (settings.home / "demo" / stamp).resolve()
    return settings.model_copy(update={
        "home": home, "database_url": None, "slack_bot_token": None, "slack_bot_token_block": None,
        "approvers": {},
        # A private sandbox: typed names (demo approvers, the console) decide its critical gates too.
        "unverified_channels": "all",
    })


def demo_faults(component: str, fault: str | None) -> dict[str, str]:
    """Which components get the defect ``fault``, checked before anything starts.

    BadParameter (one line naming what is allowed) for an unknown component or defect, or a
    defect the chosen component does not have. With ``all``, every component that has a defect
    of that name gets it (the others run their shipped candidate).
    """
    from runbook.engines.registry import list_faults

    allowed = ("all", *(c.value for c in Component))
    if component not in allowed:
        raise BadParameter(f"unknown component {component!r}; allowed: {', '.join(allowed)}")
    if fault is None:
        return {}
    known = list_faults()
    owners = [owner for owner, name in known if name == fault]
    if not owners:
        listing = "; ".join(f"{c.value}: {_faults_of(known, c.value)}" for c in Component)
        raise BadParameter(f"--inject-fault {fault!r} is not a known defect; known: {listing}")
    if component == "all":
        return dict.fromkeys(owners, fault)
    if component not in owners:
        raise BadParameter(f"--inject-fault {fault!r} is not a defect of {component} but of "
                           f"{', '.join(owners)}; {component}'s: {_faults_of(known, component)}")
    return {component: fault}


def _faults_of(known: Sequence[tuple[str, str]], component: str) -> str:
    return ", ".join(sorted(name for owner, name in known if owner == component)) or "none"


def exit_code(rows: Sequence[Mapping[str, Any]]) -> int:
    """0 when every component reached full or retired; 3 when the runbook stopped one; 1 otherwise."""
    if any(row["status"] == "failed" for row in rows):
        return EXIT_FAILED
    if all(row["status"] == "completed" and row.get("mode") in DONE_MODES for row in rows):
        return EXIT_OK
    return EXIT_STOPPED


def run_demo(settings: Settings, options: DemoOptions, *, chooser: Any) -> DemoResult:
    """Run ``migrate`` in this process with an in-process approver; the result and its exit code."""
    from runbook.control.audit import AuditLog
    from runbook.domain.gates import Channel
    from runbook.orchestration.approvers import BackgroundApprover
    from runbook.orchestration.context import close_stores, open_store, settings_scope
    from runbook.orchestration.deployments import load_flow
    from runbook.reports.migration import display_row, summary_rows, write_migration_report

    migrate = load_flow("flows/migrate.py:migrate")
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
        rows = summary_rows(store, _rows(state, options))
        components = [row["component"] for row in rows]
        table = [{**display_row(row), "why": row.get("reason", "") if row["status"] != "completed" else "",
                  "report": row.get("report", "")} for row in rows]
        report = write_migration_report(store, settings.reports_dir / "demo-migration-report.html",
                                        title="runbook demo: ADR-0011 migration", components=components,
                                        summary=table)
        audit_rows = AuditLog(store).verify()
        close_stores()
    return DemoResult(tuple(rows), exit_code(rows), report.resolve(), time.monotonic() - started,
                      settings.home, tuple(approver.answered), database_url=settings.resolved_database_url,
                      audit_rows=audit_rows, flow_run_id=str(state.state_details.flow_run_id or ""))


def connect_prefect() -> str:
    """Reach the Prefect API once from this thread before any other thread does; its URL.

    Without PREFECT_API_URL the first client starts Prefect's temporary server; two threads doing
    that at once would start two and leave one running after exit.
    """
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.api_healthcheck()
        return str(client.api_url).rstrip("/")


@contextmanager
def prefect_for_demo(home: Path) -> Iterator[PrefectTarget]:
    """Choose the demo's Prefect server, connect to it, and yield it (``api_url`` the one in use).

    PREFECT_API_URL when it answers; else the server ``runbook up`` runs, when it answers; else
    Prefect's temporary server, started here with its own log in ``home``/prefect-server.log so
    that its messages do not land in the demo's output. The process's Prefect settings are put
    back when the block ends.
    """
    from prefect.settings import get_current_settings

    from runbook._cli.server import find_prefect

    current = get_current_settings()
    target = find_prefect(api_url=current.api.url, ui_url=current.ui_url)
    changes = {} if target.api_url == current.api.url else {"PREFECT_API_URL": target.api_url or ""}
    with _environ(changes, refresh=True):
        if not target.temporary:
            yield replace(target, api_url=connect_prefect())
            return
        with _environ({"PREFECT_LOGGING_SETTINGS_PATH": str(_server_logging(home))}, refresh=False):
            api_url = connect_prefect()  # starts the temporary server, which reads that variable
        yield replace(target, api_url=api_url)


def _server_logging(home: Path) -> Path:
    import json

    from runbook._cli.server import server_log_config

    home.mkdir(parents=True, exist_ok=True)
    path = home / "prefect-server-logging.json"
    path.write_text(json.dumps(server_log_config(home / "prefect-server.log")), encoding="utf-8")
    return path


@contextmanager
def _environ(changes: Mapping[str, str], *, refresh: bool) -> Iterator[None]:
    """Set environment variables for the block; ``refresh`` makes Prefect's settings see them."""
    from prefect.context import refresh_global_settings_context

    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    if changes and refresh:
        refresh_global_settings_context()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if changes and refresh:
            refresh_global_settings_context()


def _rows(state: Any, options: DemoOptions) -> list[dict[str, Any]]:
    result = state.result(raise_on_failure=False)
    if isinstance(result, list):
        return result
    names = [c.value for c in Component] if options.components == "all" else [options.components]
    reason = state.message or str(result)
    return [{"component": name, "status": "failed", "phase": "migrate", "check": "run", "reason": reason,
             "mode": "", "traffic_percent": 0.0} for name in names]
