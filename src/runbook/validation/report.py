"""ValidationReport: the verdict, every check with its numbers, worst scenarios, frames, files."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runbook.scenarios.sets import ScenarioSet


@dataclass(frozen=True, slots=True)
class Check:
    """One named check; ``gating`` checks decide the verdict, the others are diagnostics.

    ``inconclusive``: the check could not decide within its budget (``passed`` is then False: an
    undecided check is never a silent pass; a human decides with the figures).
    """

    name: str
    passed: bool
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)
    gating: bool = True
    inconclusive: bool = False

    @property
    def outcome(self) -> str:
        """``pass``, ``fail`` or ``inconclusive``."""
        return "pass" if self.passed else "inconclusive" if self.inconclusive else "fail"


@dataclass(frozen=True, slots=True)
class WorstScenario:
    """A scenario and metric with one of the largest scaled differences."""

    scenario_id: str
    kind: str
    portfolio_id: str
    metric: str
    legacy: float
    candidate: float
    abs_difference: float
    rel_difference: float


@dataclass(frozen=True, slots=True, eq=False)
class Outputs:
    """Both engines' outputs on one block of scenarios (historical, or all Monte Carlo chunks)."""

    kind: str
    scenarios: tuple[ScenarioSet, ...]  # metadata only (batch dropped)
    legacy: dict[str, np.ndarray]
    candidate: dict[str, np.ndarray]
    scaled: dict[str, np.ndarray]
    contract_size: np.ndarray | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ValidationReport:
    """The result of validating a candidate against the legacy engine of one component."""

    component: str
    passed: bool
    checks: tuple[Check, ...]
    worst_scenarios: tuple[WorstScenario, ...]
    conventions: dict[str, str]
    summary: dict[str, Any]
    diagnostics: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[Outputs, ...] = ()
    backtest_series: dict[str, np.ndarray] = field(default_factory=dict)
    data: dict[str, Any] | None = None  # path, rows, first_date, last_date, sha256 of the market data
    engines: dict[str, Any] | None = None  # legacy / candidate: import path, module file, SHA-256

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        """Gating checks that did not pass."""
        return tuple(c for c in self.checks if c.gating and not c.passed)

    @property
    def verdict(self) -> str:
        """``pass``; ``fail`` when a gating check failed; else ``inconclusive`` (not a pass either)."""
        if self.passed:
            return "pass"
        return "inconclusive" if all(c.inconclusive for c in self.failed_checks) else "fail"

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if absent)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the per-scenario arrays, JSON-able (NaN and inf as null)."""
        return _jsonable(
            {
                "component": self.component,
                "passed": self.passed,
                "verdict": self.verdict,
                "data": self.data,
                "engines": self.engines,
                "failed_checks": [c.name for c in self.failed_checks],
                "summary": self.summary,
                "checks": [asdict(c) for c in self.checks],
                "worst_scenarios": [asdict(w) for w in self.worst_scenarios],
                "conventions": self.conventions,
                "diagnostics": self.diagnostics,
            }
        )

    def to_json(self) -> str:
        """``to_dict`` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def scenarios_frame(self):
        """The scenario frame (GX suite ``scenarios``) of every scenario validated."""
        import pandas as pd

        frames = [s.frame() for block in self.outputs for s in block.scenarios]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def frame(self):
        """Per-scenario results: ids, kind, portfolio, as_of, per metric legacy / candidate / rel_diff."""
        import pandas as pd

        frames = []
        for block in self.outputs:
            meta = _meta(block)
            columns: dict[str, Any] = {}
            within = np.ones(len(meta), dtype=bool)
            for metric in block.legacy:
                columns[f"{metric}_legacy"] = block.legacy[metric]
                columns[f"{metric}_candidate"] = block.candidate[metric]
                columns[f"{metric}_rel_diff"] = block.scaled[metric]
                within &= np.abs(block.scaled[metric]) <= self.summary.get("rtol", 1e-5)
            frames.append(pd.concat([meta, pd.DataFrame(columns)], axis=1).assign(within_tolerance=within))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def outputs_frame(self):
        """Engine outputs (GX suite ``engine_outputs``): one row per scenario and engine."""
        import pandas as pd

        from runbook.domain.components import Component
        from runbook.validation.adapters import ADAPTERS

        if self.component not in {c.value for c in Component} or not self.outputs:
            return pd.DataFrame()
        adapter = ADAPTERS[Component(self.component)]
        frames = []
        for block in self.outputs:
            ids = _meta(block)["scenario_id"]
            notional = np.concatenate([s.notional for s in block.scenarios])
            for engine, values in (("legacy", block.legacy), ("candidate", block.candidate)):
                columns = adapter.output_columns(
                    values, kind=block.kind, notional=notional, contract_size=block.contract_size
                )
                frames.append(
                    pd.DataFrame(
                        {"scenario_id": ids, "component": self.component, "engine": engine, **columns}
                    )
                )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``report.json`` and a self-contained ``report.html`` (plots embedded) into ``directory``."""
        from runbook.validation.html import render_html

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "report.json", "html": out / "report.html"}
        paths["json"].write_text(self.to_json() + "\n", encoding="utf-8")
        paths["html"].write_text(render_html(self), encoding="utf-8")
        return paths


def _meta(block: Outputs):
    import pandas as pd

    frames = [s.frame()[["scenario_id", "kind", "portfolio_id", "as_of"]] for s in block.scenarios]
    return pd.concat(frames, ignore_index=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
