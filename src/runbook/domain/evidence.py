"""What tasks hand back to a flow: frozen value objects a gate's evidence is made of.

A flow reads attributes (``report.passed``, ``quality.failures``), never string keys, so mypy
follows a value from the task into the flow and into the decision. ``as_dict`` gives the plain
values artifacts, audit evidence and flow results carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "BaselineFigures", "CheckView", "EnginesCheck", "ExpectationsCheck", "NotifierCheck", "PruneSummary",
    "QualitySummary", "RolledBack", "StoreCheck", "TrafficWindow", "ValidationSummary",
]


@dataclass(frozen=True, slots=True)
class NotifierCheck:
    """Where the runbook's messages go (``slack`` or ``console``), whether it answers, and the detail."""

    channel: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"channel": self.channel, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class BaselineFigures:
    """A legacy baseline as recorded in phase 0: latency in microseconds, memory in bytes,
    hedge effectiveness in [0, 1] (None for components that do not hedge)."""

    component: str
    latency_p50_us: float
    latency_p99_us: float
    peak_memory_bytes: int
    hedge_effectiveness: float | None
    source: str

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "latency_p50_us": self.latency_p50_us,
                "latency_p99_us": self.latency_p99_us, "peak_memory_bytes": self.peak_memory_bytes,
                "hedge_effectiveness": self.hedge_effectiveness, "source": self.source}


@dataclass(frozen=True, slots=True)
class RolledBack:
    """A component after a rollback: its mode, share and epoch, and whether this rollback moved it
    (False when it was already back on legacy: rollback is idempotent)."""

    component: str
    mode: str
    traffic_percent: float
    epoch: int
    changed: bool = True

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "mode": self.mode, "traffic_percent": self.traffic_percent,
                "epoch": self.epoch, "changed": self.changed}


@dataclass(frozen=True, slots=True)
class TrafficWindow:
    """Traffic seen in one observation window: calls sent (replayed or made by production services),
    with the replay's own figures when it was a replay (rates per second, lag in seconds)."""

    component: str
    sent: int
    figures: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """One data-quality suite run: passed, a one-line summary, what failed, rows, and its Data Docs page
    (a URL of the report server, or a path when the page is not under a served folder)."""

    suite: str
    passed: bool
    summary: str
    failures: tuple[str, ...] = ()
    rows: int = 0
    data_docs: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"suite": self.suite, "passed": self.passed, "summary": self.summary,
                "failures": list(self.failures), "rows": self.rows, "data_docs": self.data_docs}


@dataclass(frozen=True, slots=True)
class CheckView:
    """One offline validation check as shown in a table: name, passed, outcome word, detail."""

    check: str
    passed: bool
    outcome: str
    detail: str


@dataclass(frozen=True, slots=True)
class ValidationSummary:
    """An offline validation of a component: the verdict, its checks, the reports written.

    ``frames`` holds the tables the data-quality suites read (``scenarios``, ``engine_outputs``),
    as the validation built them (pandas frames; the domain does not look inside).
    """

    component: str
    passed: bool
    verdict: str
    historical: int
    monte_carlo: int
    report_html: str
    report_json: str
    report_url: str = ""  # the HTML report on the report server (empty: not served)
    failed_checks: tuple[str, ...] = ()
    checks: tuple[CheckView, ...] = ()
    fault: str | None = None
    summary: Mapping[str, object] = field(default_factory=dict)
    frames: Mapping[str, object] = field(default_factory=dict)

    def frame(self, name: str) -> object:
        """The table ``name`` (``scenarios`` or ``engine_outputs``) the quality suites check."""
        return self.frames[name]


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """The state store answers: where it is (password hidden), its schema revision, how many
    components it holds."""

    store: str
    revision: str
    components: int

    def as_dict(self) -> dict[str, object]:
        return {"store": self.store, "revision": self.revision, "components": self.components}


@dataclass(frozen=True, slots=True)
class EnginesCheck:
    """Both engines of a component import: their import paths and the fault injected, if any."""

    component: str
    legacy: str
    candidate: str
    fault: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"legacy": self.legacy, "candidate": self.candidate, "fault": self.fault}


@dataclass(frozen=True, slots=True)
class ExpectationsCheck:
    """Every shipped data-quality suite loads: the expectations each holds after loading (a
    misspelled expectation type is dropped on load and shows here as a smaller count)."""

    counts: tuple[tuple[str, int], ...]

    def as_dict(self) -> dict[str, object]:
        return dict(self.counts)


@dataclass(frozen=True, slots=True)
class PruneSummary:
    """One prune of the observations: minutes rolled up, then raw rows past the retention deleted.

    ``rolled_until`` is the Unix second up to which minutes are rolled up (None: nothing yet).
    """

    retention_days: float
    deleted: int
    rolled_up_rows: int
    rollups_written: int
    rolled_until: float | None

    def as_dict(self) -> dict[str, object]:
        return {"retention_days": self.retention_days, "deleted": self.deleted,
                "rolled_up_rows": self.rolled_up_rows, "rollups_written": self.rollups_written,
                "rolled_until": self.rolled_until}
