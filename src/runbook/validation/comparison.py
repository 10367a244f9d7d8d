"""Per-metric comparison of two engines' outputs: tolerance, TOST, diagnostics, intersection-union."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runbook.validation import statistics as st
from runbook.validation.report import Check, Outputs, WorstScenario
from runbook.validation.scales import describe


@dataclass(frozen=True, slots=True)
class Margins:
    """The ADR's numbers: relative tolerance, TOST margin and alpha per side."""

    rtol: float = st.RTOL
    delta: float = st.DELTA
    alpha: float = st.ALPHA


def metric_checks(block: Outputs, margins: Margins) -> list[Check]:
    """A tolerance check and a TOST check per metric of ``block``."""
    checks = []
    for metric, d in block.scaled.items():
        tol = st.tolerance(block.legacy[metric], block.candidate[metric], d, rtol=margins.rtol)
        checks.append(
            Check(
                f"tolerance:{block.kind}:{metric}",
                tol.passed,
                f"{tol.failures} of {tol.n} scenarios outside |new-old| <= {margins.rtol:g}*scale + atol "
                f"(scale: {describe(metric)}); max rel {tol.max_rel:.3g}, p99 rel {tol.p99_rel:.3g}",
                tol.to_dict() | {"scale": describe(metric)},
            )
        )
        tost = st.tost(d, delta=margins.delta, alpha=margins.alpha)
        checks.append(
            Check(
                f"equivalence_tost:{block.kind}:{metric}",
                tost.passed,
                f"TOST p={tost.p_value:.3g} (alpha {margins.alpha:g} per side); "
                f"{100 * (1 - 2 * margins.alpha):g}% CI of mean rel diff "
                f"[{tost.ci_low:.3g}, {tost.ci_high:.3g}] "
                f"vs margin +-{margins.delta:g}",
                tost.to_dict(),
            )
        )
    return checks


def metric_diagnostics(block: Outputs, *, seed: int) -> dict[str, dict[str, float]]:
    """Wilcoxon, KS and bootstrap CI of the mean scaled difference, per metric (not gating)."""
    out = {}
    for metric, d in block.scaled.items():
        old, new = block.legacy[metric], block.candidate[metric]
        low, high = st.bootstrap_mean_ci(d, seed=seed)
        out[f"{block.kind}:{metric}"] = {
            "wilcoxon_p": st.wilcoxon_p(old, new),
            "ks_p": st.ks_p(old, new),
            "bootstrap_mean_low": low,
            "bootstrap_mean_high": high,
        }
    return out


Cell = tuple[str, str, str, int, int, float, float, bool]
CellsOf = Callable[[list["CellInputs"]], list[list[Cell]]]


@dataclass(frozen=True, slots=True)
class CellInputs:
    """One metric's outputs on a group of whole books: the rows of ``index`` in scenario order."""

    kind: str
    metric: str
    portfolio_ids: tuple[str, ...]
    index: np.ndarray
    scaled: np.ndarray
    legacy: np.ndarray
    candidate: np.ndarray


def cell_inputs(blocks: list[Outputs], groups: int = 1) -> list[CellInputs]:
    """Per block and metric, the outputs split into ``groups`` of whole books (in book order)."""
    items: list[CellInputs] = []
    for block in blocks:
        index = np.concatenate([s.portfolio_index for s in block.scenarios])
        ids = block.scenarios[0].portfolio_ids
        books = np.array_split(np.arange(len(ids)), min(groups, len(ids)))
        rows = [np.flatnonzero(np.isin(index, g)) for g in books] if len(books) > 1 else [slice(None)]
        for metric, d in block.scaled.items():
            old, new = block.legacy[metric], block.candidate[metric]
            items.extend(CellInputs(block.kind, metric, ids, index[r], d[r], old[r], new[r]) for r in rows)
    return items


def portfolio_cells(inputs: CellInputs, margins: Margins) -> list[Cell]:
    """Tolerance failures, TOST and Wilcoxon of every book in ``inputs``, in book order."""
    order = np.argsort(inputs.index, kind="stable")  # each book's rows, still in scenario order
    bounds = np.searchsorted(inputs.index[order], np.arange(len(inputs.portfolio_ids) + 1))
    cells = []
    for p, portfolio in enumerate(inputs.portfolio_ids):
        rows = order[bounds[p] : bounds[p + 1]]
        if not rows.size:
            continue
        d = inputs.scaled[rows]
        tost = st.tost(d, delta=margins.delta, alpha=margins.alpha)
        failures = int((~(np.abs(d) <= margins.rtol)).sum())
        wilcoxon = st.wilcoxon_p(inputs.legacy[rows], inputs.candidate[rows])
        cells.append(
            (inputs.kind, inputs.metric, portfolio, int(rows.size), failures, tost.p_value, wilcoxon,
             failures == 0 and tost.passed)
        )  # fmt: skip
    return cells


def intersection_union(
    blocks: list[Outputs], margins: Margins, *, cells_of: CellsOf | None = None, groups: int = 1
) -> tuple[Check, dict[str, object]]:
    """Pass only if every portfolio passes tolerance and TOST on every metric; BH-adjusted diagnostics.

    ``cells_of`` computes the per-book cells of each group of books (in this process by default);
    the BH adjustment and the verdict are taken here from all of them.
    """
    items = cell_inputs(blocks, groups)
    parts = cells_of(items) if cells_of else [portfolio_cells(item, margins) for item in items]
    rows = [cell for part in parts for cell in part]
    tost_bh = st.benjamini_hochberg(np.array([r[5] for r in rows]))
    wilcoxon_bh = st.benjamini_hochberg(np.array([r[6] for r in rows]))
    table = [
        {
            "kind": r[0],
            "metric": r[1],
            "portfolio_id": r[2],
            "n": r[3],
            "tolerance_failures": r[4],
            "tost_p": r[5],
            "tost_p_bh": float(tb),
            "wilcoxon_p": r[6],
            "wilcoxon_p_bh": float(wb),
            "passed": r[7],
        }
        for r, tb, wb in zip(rows, tost_bh, wilcoxon_bh, strict=True)
    ]
    failing = sorted({f"{r['portfolio_id']}/{r['metric']}" for r in table if not r["passed"]})
    portfolios = sorted({str(r["portfolio_id"]) for r in table})
    detail = (
        f"all {len(portfolios)} portfolios pass every metric"
        if not failing
        else f"{len(failing)} portfolio/metric cells fail: {', '.join(failing[:6])}"
        + (" ..." if len(failing) > 6 else "")
    )
    check = Check(
        "portfolios_intersection_union",
        not failing,
        detail,
        {"portfolios": len(portfolios), "cells": len(table), "failing_cells": len(failing)},
    )
    return check, {"per_portfolio": table}


def worst_scenarios(blocks: list[Outputs], *, count: int = 10) -> list[WorstScenario]:
    """The ``count`` (scenario, metric) pairs with the largest |scaled difference|, across blocks."""
    candidates: list[tuple[float, Outputs, str, int]] = []
    for block in blocks:
        for metric, d in block.scaled.items():
            magnitude = np.nan_to_num(np.abs(d), nan=np.inf)
            top = np.argpartition(-magnitude, min(count, magnitude.size - 1))[:count]
            candidates.extend((float(magnitude[i]), block, metric, int(i)) for i in top)
    candidates.sort(key=lambda item: -item[0])
    return [_worst(block, metric, i) for _, block, metric, i in candidates[:count]]


def _worst(block: Outputs, metric: str, i: int) -> WorstScenario:
    ends = np.cumsum([len(s) for s in block.scenarios])
    k = int(np.searchsorted(ends, i, side="right"))  # the set holding block row i
    s, local = block.scenarios[k], i - (int(ends[k - 1]) if k else 0)
    scenario_id = _one_id(s, local)
    portfolio = s.portfolio_ids[int(s.portfolio_index[local])]
    old, new = float(block.legacy[metric][i]), float(block.candidate[metric][i])
    return WorstScenario(
        scenario_id, block.kind, portfolio, metric, old, new, abs(new - old), float(block.scaled[metric][i])
    )


def _one_id(s: object, local: int) -> str:
    prefix, width = ("H", 6) if s.kind == "historical" else ("M", 7)  # type: ignore[attr-defined]
    return f"{prefix}{s.start + local:0{width}d}"  # type: ignore[attr-defined]
