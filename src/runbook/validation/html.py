"""A self-contained HTML page for a ValidationReport: tables plus plots embedded as base64 PNG.

Plots use matplotlib's object API on the Agg canvas (no pyplot, no global backend change).
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import numpy as np

MAX_POINTS = 5_000

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}
.pass{color:#176f2c;font-weight:600}.fail{color:#b00020;font-weight:600}img{max-width:100%;margin:.5em 0}"""


def _png(figure: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _sample(size: int) -> np.ndarray:
    if size <= MAX_POINTS:
        return np.arange(size)
    return np.sort(np.random.default_rng(0).choice(size, MAX_POINTS, replace=False))


def scatter_plot(report: Any) -> str | None:
    """Old vs new of the primary metric of each block (a 45-degree line means agreement)."""
    from matplotlib.figure import Figure

    if not report.outputs:
        return None
    figure = Figure(figsize=(5.0 * len(report.outputs), 4.2))
    for i, block in enumerate(report.outputs):
        metric = next(iter(block.legacy))
        pick = _sample(block.legacy[metric].size)
        old, new = block.legacy[metric][pick], block.candidate[metric][pick]
        axes = figure.add_subplot(1, len(report.outputs), i + 1)
        axes.scatter(old, new, s=4, alpha=0.5)
        finite = np.isfinite(old) & np.isfinite(new)
        if finite.any():
            low, high = (
                float(min(old[finite].min(), new[finite].min())),
                float(max(old[finite].max(), new[finite].max())),
            )
            axes.plot([low, high], [low, high], color="black", linewidth=0.8)
        axes.set(title=f"{block.kind}: {metric}", xlabel="legacy", ylabel="candidate")
    return _png(figure)


def difference_plot(report: Any) -> str | None:
    """Distribution of log10 |scaled relative difference| per metric, with the 1e-5 tolerance line."""
    from matplotlib.figure import Figure

    if not report.outputs:
        return None
    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot(1, 1, 1)
    for block in report.outputs:
        for metric, d in block.scaled.items():
            magnitude = np.abs(d[np.isfinite(d)])
            values = np.log10(np.maximum(magnitude, 1e-18))
            axes.hist(values, bins=60, histtype="step", label=f"{block.kind}:{metric}")
    axes.axvline(np.log10(report.summary.get("rtol", 1e-5)), color="red", linestyle="--", label="tolerance")
    axes.set(xlabel="log10 |relative difference| (1e-18 = identical)", ylabel="scenarios")
    axes.legend(fontsize=7, ncol=2, loc="upper left")
    return _png(figure)


def backtest_plot(report: Any) -> str | None:
    """Realised daily loss vs both engines' 1-day VaR, exceptions marked, over the real history."""
    from matplotlib.figure import Figure

    series = report.backtest_series
    if not series:
        return None
    dates, loss = series["dates"], series["realised_loss"]
    figure = Figure(figsize=(11, 4))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(dates, loss, color="#999", linewidth=0.5, label="realised loss")
    for name, color in (("var_legacy", "#1f77b4"), ("var_candidate", "#ff7f0e")):
        axes.plot(dates, series[name], color=color, linewidth=0.8, label=name.replace("_", " "))
        hits = loss > series[name]
        axes.scatter(dates[hits], loss[hits], s=10, color=color, marker="x")
    axes.set(title="backtest: exceptions (x) over time", ylabel="currency")
    axes.legend(fontsize=8, loc="upper left")
    return _png(figure)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    return escape(str(value))


def _outcome(check: Any) -> str:
    if check.passed:
        return '<span class="pass">pass</span>'
    return f'<span class="fail">{check.outcome.upper()}</span>'


def _sources(report: Any) -> str:
    """The market data and the engines validated (file, rows, dates, SHA-256; import paths)."""
    data = getattr(report, "data", None) or {}
    rows = [[escape(f"data {k}"), _fmt(v)] for k, v in data.items() if not isinstance(v, dict)]
    for key, block in data.items():  # e.g. the Monte Carlo calibration, one row per entry
        if isinstance(block, dict):
            rows += [[escape(f"data {key}.{k}"), _fmt(v)] for k, v in block.items()]
    for role, info in (getattr(report, "engines", None) or {}).items():
        if isinstance(info, dict):
            rows += [[escape(f"{role} {k}"), _fmt(v)] for k, v in info.items()]
        else:  # a batch validation's engines: the import path alone (or the fault injected)
            rows.append([escape(role), _fmt(info)])
    return _table(["validated", "value"], rows) if rows else ""


def _distributed(summary: dict[str, Any]) -> str:
    """Where the engines ran, and which partitions were rerun after which workers were lost."""
    if "distributed" not in summary:
        return ""
    from runbook.validation.distributed import describe_run

    return f"<p>{escape(describe_run(summary['distributed']))}</p>"


def render_html(report: Any) -> str:
    """The whole page."""
    verdict = f'<span class="{"pass" if report.passed else "fail"}">{report.verdict.upper()}</span>'
    checks = sorted(report.checks, key=lambda c: (c.passed, c.name))
    check_rows = [
        [
            escape(c.name),
            _outcome(c),
            "gating" if c.gating else "diagnostic",
            escape(c.detail),
        ]
        for c in checks
    ]
    worst_rows = [
        [
            _fmt(w.scenario_id),
            _fmt(w.kind),
            _fmt(w.portfolio_id),
            _fmt(w.metric),
            _fmt(w.legacy),
            _fmt(w.candidate),
            _fmt(w.abs_difference),
            _fmt(w.rel_difference),
        ]
        for w in report.worst_scenarios
    ]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>validation {escape(report.component)}</title>"
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(report.component)}: {verdict}</h1>",
        _table(["summary", "value"], [[escape(k), _fmt(v)] for k, v in report.summary.items()]),
        _distributed(report.summary),
        _sources(report),
        "<h2>Checks</h2>",
        _table(["check", "result", "kind", "detail"], check_rows),
        "<h2>Worst scenarios</h2>",
        _table(
            ["scenario", "kind", "portfolio", "metric", "legacy", "candidate", "abs diff", "rel diff"],
            worst_rows,
        ),
    ]
    for title, plot in (
        ("Old vs new", scatter_plot(report)),
        ("Relative differences", difference_plot(report)),
        ("Backtest exceptions over time", backtest_plot(report)),
    ):
        if plot:
            parts.append(f"<h2>{title}</h2><img alt='{escape(title)}' src='{plot}'>")
    parts.append("<h2>Conventions</h2>")
    parts.append(
        _table(["convention", "value"], [[escape(k), escape(v)] for k, v in report.conventions.items()])
    )
    table = report.diagnostics.get("intersection_union", {}).get("per_portfolio", [])
    if table:
        headers = list(table[0])
        parts.append("<h2>Per portfolio (BH-adjusted diagnostics)</h2>")
        parts.append(_table(headers, [[_fmt(row[h]) for h in headers] for row in table]))
    parts.append("</body></html>")
    return "\n".join(parts)
