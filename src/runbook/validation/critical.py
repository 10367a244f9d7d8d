"""Checks specific to the critical components: Monte Carlo VaR / ES per portfolio, hedge effectiveness
non-inferiority and hedge-ratio drift, VaR backtests on real data."""

from __future__ import annotations

import numpy as np

from runbook.engines.batches import VaRBatch
from runbook.scenarios.loader import MarketHistory
from runbook.scenarios.portfolios import PORTFOLIOS, Portfolio
from runbook.validation.backtests import BacktestResult, backtest
from runbook.validation.report import Check, Outputs

MIN_HE_RATIO = 0.95  # ADR: effectiveness may not fall by more than 5%
MAX_HEDGE_RATIO_DRIFT = 0.01  # p99 of |h_new / h_old - 1|
HE_BOOTSTRAP_MAX_N = 25_000


def _index(block: Outputs) -> np.ndarray:
    return np.concatenate([s.portfolio_index for s in block.scenarios])


def mc_var_check(block: Outputs, legacy: object, candidate: object, rtol: float) -> Check:
    """VaR and ES of each portfolio's simulated losses, old vs new, under common random numbers."""
    index = _index(block)
    rows, failures = [], 0
    for p, portfolio in enumerate(PORTFOLIOS[: len(block.scenarios[0].portfolio_ids)]):
        mask = index == p
        if mask.sum() < 100:
            continue
        kwargs = {"confidence": portfolio.confidence, "horizon_days": portfolio.horizon_days}
        old = legacy.var_from_losses(block.legacy["loss"][mask], **kwargs)  # type: ignore[attr-defined]
        new = candidate.var_from_losses(block.candidate["loss"][mask], **kwargs)  # type: ignore[attr-defined]
        for name in ("var", "es"):
            o, n = getattr(old, name), getattr(new, name)
            bad = not abs(n - o) <= rtol * abs(o) + 1e-6
            failures += bad
            rows.append(
                {
                    "portfolio_id": portfolio.portfolio_id,
                    "metric": name,
                    "legacy": o,
                    "candidate": n,
                    "rel_difference": (n - o) / abs(o) if o else float("inf"),
                    "passed": not bad,
                }
            )
    return Check(
        "monte_carlo_var_es",
        failures == 0 and bool(rows),
        f"{failures} of {len(rows)} portfolio VaR/ES values from {index.size} common-random-number "
        "draws outside tolerance",
        {"rows": rows},
    )


def hedge_effectiveness_check(block: Outputs, *, seed: int, resamples: int = 200) -> Check:
    """Per book: 95% bootstrap lower bound of HE_new / HE_old over simulated P&L must be >= 0.95."""
    index = _index(block)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    lows: list[float] = []
    for b, book in enumerate(block.scenarios[0].portfolio_ids):
        picked = np.flatnonzero(index == b)
        if picked.size > HE_BOOTSTRAP_MAX_N:
            picked = np.sort(rng.choice(picked, HE_BOOTSTRAP_MAX_N, replace=False))
        old_h, new_h = block.legacy["hedged_pnl"][picked], block.candidate["hedged_pnl"][picked]
        unhedged_old, unhedged_new = (
            block.legacy["unhedged_pnl"][picked],
            block.candidate["unhedged_pnl"][picked],
        )
        he_old = 1.0 - old_h.var() / unhedged_old.var()
        he_new = 1.0 - new_h.var() / unhedged_new.var()
        ratios = np.empty(resamples)
        for r in range(resamples):
            i = rng.integers(0, picked.size, picked.size)
            ratios[r] = (1.0 - new_h[i].var() / unhedged_new[i].var()) / (
                1.0 - old_h[i].var() / unhedged_old[i].var()
            )
        low = float(np.quantile(ratios, 0.025, method="linear"))
        lows.append(low)
        rows.append(
            {
                "book_id": book,
                "he_legacy": float(he_old),
                "he_candidate": float(he_new),
                "ratio": float(he_new / he_old),
                "ratio_lower_95": low,
                "passed": low >= MIN_HE_RATIO,
            }
        )
    worst = min((low for low in lows), default=float("nan"))
    passed = bool(rows) and all(r["passed"] for r in rows)
    return Check(
        "hedge_effectiveness_noninferiority",
        passed,
        f"lowest 95% bootstrap lower bound of HE_new/HE_old {worst:.6f} (limit {MIN_HE_RATIO})",
        {"books": rows, "resamples": resamples, "min_ratio": MIN_HE_RATIO},
    )


def hedge_ratio_drift_check(block: Outputs) -> Check:
    """p99 of |h_new / h_old - 1| over historical scenarios within MAX_HEDGE_RATIO_DRIFT."""
    old, new = block.legacy["hedge_ratio"], block.candidate["hedge_ratio"]
    with np.errstate(divide="ignore", invalid="ignore"):
        drift = np.abs(new / old - 1.0)
    drift = np.nan_to_num(drift, nan=np.inf)
    with np.errstate(invalid="ignore"):  # inf - inf between two missing ratios: NaN, reported as inf
        p99 = float(np.quantile(drift, 0.99, method="linear"))
    p99 = float("inf") if np.isnan(p99) else p99
    return Check(
        "hedge_ratio_drift",
        p99 <= MAX_HEDGE_RATIO_DRIFT,
        f"p99 hedge-ratio drift {p99:.3g}, max {float(drift.max()):.3g} (limit {MAX_HEDGE_RATIO_DRIFT:g})",
        {"p99_drift": p99, "max_drift": float(drift.max()), "limit": MAX_HEDGE_RATIO_DRIFT},
    )


def backtest_inputs(
    history: MarketHistory, portfolio: Portfolio, window: int = 250
) -> tuple[VaRBatch, np.ndarray, np.ndarray]:
    """Rolling 1-day VaR scenarios on real data, the next day's realised loss, and its date."""
    complete = history.complete()
    returns = complete.log_returns()
    starts = np.arange(returns.shape[0] - window)
    windows = returns[starts[:, None] + np.arange(window)[None, :]]
    weights = np.array(portfolio.weights)
    n = starts.size
    batch = VaRBatch(
        windows,
        np.tile(weights, (n, 1)),
        np.full(n, portfolio.notional),
        np.full(n, portfolio.confidence),
        np.ones(n),
    )
    realised = -portfolio.notional * (np.expm1(returns[window:]) @ weights)
    return batch, realised, complete.dates[window + 1 :]


def backtest_check(
    history: MarketHistory, legacy: object, candidate: object, portfolio: Portfolio = PORTFOLIOS[0]
) -> tuple[Check, dict[str, object], dict[str, np.ndarray]]:
    """Backtest both engines' 1-day historical VaR on real data; the new zone may not be worse."""
    batch, realised, dates = backtest_inputs(history, portfolio)
    var_old = legacy.var_batch(batch)["var"]  # type: ignore[attr-defined]
    var_new = candidate.var_batch(batch)["var"]  # type: ignore[attr-defined]
    old: BacktestResult = backtest(realised, var_old, confidence=portfolio.confidence)
    new: BacktestResult = backtest(realised, var_new, confidence=portfolio.confidence)
    zone_old, zone_new = old.traffic_light.zone, new.traffic_light.zone
    passed = zone_new.rank <= zone_old.rank
    detail = (
        f"{portfolio.portfolio_id} 1-day {portfolio.confidence:.0%} VaR on {old.observations} real days: "
        f"exceptions {old.exceptions} -> {new.exceptions}; zone (last 250 days) {zone_old} -> {zone_new}; "
        f"Kupiec p {old.kupiec.p_value:.3g} -> {new.kupiec.p_value:.3g}"
    )
    series = {"dates": dates, "realised_loss": realised, "var_legacy": var_old, "var_candidate": var_new}
    return (
        Check(
            "backtest_traffic_light",
            passed,
            detail,
            {
                "zone_legacy": zone_old.value,
                "zone_candidate": zone_new.value,
                "exceptions_legacy": old.exceptions,
                "exceptions_candidate": new.exceptions,
            },
        ),
        {"legacy": old.to_dict(), "candidate": new.to_dict(), "portfolio_id": portfolio.portfolio_id},
        series,
    )
