"""Hedge effectiveness online: how CriticalComponentMonitor measures it, and the check (ADR 3.3).

Measure. Hedge effectiveness is the variance reduction of the hedge on the request's own window,
HE(h) = 1 - Var(s - h f) / Var(s), with s and f the daily spot and futures log returns the
``HedgeRequest`` carries and h the hedge ratio the engine returned. The monitor computes it
itself from the returned ratio; it does not trust an engine's self-reported effectiveness. For the
minimum-variance ratio h* this is rho^2 (Hull: 0.64 at rho = 0.8), and a ratio off by a
fraction e keeps HE(h) / HE(h*) = 1 - e^2 (a 22% error costs 5%): the ADR's 0.95 limit.

Source. Observations carry digests and differences, not hedge ratios, and a canary call is
answered by one engine only, so HE cannot be read from the observation window. A probe measures
it instead: ``effectiveness_probe`` runs the deployed legacy and candidate engines on the current
replayed market windows (``runbook.scenarios.replay``: the requests the traffic carries) and pairs
their HE per request. The check compares the candidate's mean HE with legacy's mean HE on the same
requests (HE moves with the market's correlation regime, so a stored figure from another period
would blame the candidate for the market); with no legacy figures it uses the stored baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runbook.domain.thresholds import RollbackThresholds
from runbook.monitoring._verdict import BaselineLike, Check, CheckStatus

__all__ = ["EffectivenessSample", "check_hedge_effectiveness", "effectiveness_probe", "hedge_effectiveness"]


@dataclass(frozen=True, slots=True)
class EffectivenessSample:
    """Variance reduction (1 = perfect hedge, 0 = none) of each engine's hedge on one request.

    ``candidate_error`` says why the candidate gave no measure (it raised, or returned no finite
    hedge ratio); such a sample is a calculation error, not a hedge of effectiveness 0.
    """

    candidate: float
    legacy: float | None = None
    candidate_error: str = ""


def hedge_effectiveness(
    spot_returns: Sequence[float], futures_returns: Sequence[float], hedge_ratio: float
) -> float:
    """1 - Var(s - h f) / Var(s) over the window (sample variances; the ddof cancels).

    NaN when the spot returns do not vary (nothing to hedge) or the ratio is not finite.
    """
    n = len(spot_returns)
    if n < 2 or n != len(futures_returns) or not math.isfinite(hedge_ratio):
        return math.nan
    hedged = [s - hedge_ratio * f for s, f in zip(spot_returns, futures_returns, strict=True)]
    unhedged_var = _variance(spot_returns)
    if not unhedged_var > 0.0:
        return math.nan
    return 1.0 - _variance(hedged) / unhedged_var


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def effectiveness_probe(pair: Any, *, count: int = 200, seed: int = 0) -> list[EffectivenessSample]:
    """Paired HE of ``pair``'s legacy and candidate on ``count`` replayed hedge requests.

    ``pair`` has ``call_legacy(request)`` and ``call_candidate(request)`` (an ``EnginePair``);
    a candidate that raises or returns no finite hedge ratio gives a sample carrying that error
    (``candidate_error``), which the check counts as a calculation error; a request whose legacy
    call fails is left out. Takes about ``count`` x two engine calls.
    """
    from runbook.scenarios.replay import replay_requests

    samples = []
    for _key, request in replay_requests("hedge_calculator", count=count, seed=seed):
        legacy, _legacy_error = _measure(pair.call_legacy, request)
        if legacy is None:
            continue
        candidate, error = _measure(pair.call_candidate, request)
        samples.append(EffectivenessSample(
            candidate=0.0 if candidate is None else candidate, legacy=legacy, candidate_error=error,
        ))
    return samples


def _measure(call: Callable[[Any], Any], request: Any) -> tuple[float | None, str]:
    """The HE of ``call``'s hedge on ``request``, or None and why there is none."""
    try:
        result = call(request)
        value = hedge_effectiveness(
            [float(x) for x in request.spot_returns],
            [float(x) for x in request.futures_returns],
            float(result.hedge_ratio),
        )
    except Exception as exc:  # noqa: BLE001 - any failure of an engine under probe is that engine's error
        return None, f"{type(exc).__name__}: {exc}"
    if not math.isfinite(value):
        return None, "no finite hedge effectiveness (non-finite hedge ratio or flat spot returns)"
    return value, ""


def check_hedge_effectiveness(
    samples: Sequence[EffectivenessSample] | None,
    baseline: BaselineLike | None,
    thresholds: RollbackThresholds,
    *,
    min_samples: int,
) -> Check:
    """Mean candidate HE / baseline HE against ``min_hedge_effectiveness_ratio`` (ADR: 0.95)."""
    name, limit = "hedge_effectiveness", thresholds.min_hedge_effectiveness_ratio
    if not samples:
        return Check(name, CheckStatus.UNDECIDED, f"{name}: not measured (no effectiveness samples)")
    errors = [s.candidate_error for s in samples if s.candidate_error]
    if errors:
        return Check(
            name, CheckStatus.FAIL,
            f"{name}: the candidate failed on {len(errors)} of {len(samples)} probe requests ({errors[0]})",
            {f"{name}.samples": len(samples), f"{name}.candidate_errors": len(errors),
             f"{name}.first_error": errors[0]},
        )
    n = len(samples)
    candidate = math.fsum(s.candidate for s in samples) / n
    base, source = _baseline(samples, baseline)
    evidence: dict[str, float | int | str | None] = {
        f"{name}.samples": n,
        f"{name}.candidate": candidate,
        f"{name}.baseline": base,
        f"{name}.baseline_source": source,
    }
    if base is None or not base > 0.0:
        return Check(
            name, CheckStatus.UNDECIDED, f"{name}: no positive baseline ({source}: {base})", evidence
        )
    ratio = candidate / base
    evidence[f"{name}.ratio"] = ratio
    seen = (
        f"{name}: candidate {candidate:.4f} = {ratio:.3f}x baseline {base:.4f} ({source}) "
        f"over {n} requests, limit {limit:.2f}x"
    )
    if n < min_samples:
        return Check(name, CheckStatus.UNDECIDED, f"{seen}; fewer than {min_samples} requests", evidence)
    return Check(name, CheckStatus.FAIL if ratio < limit else CheckStatus.PASS, seen, evidence)


def _baseline(
    samples: Sequence[EffectivenessSample], baseline: BaselineLike | None
) -> tuple[float | None, str]:
    legacy = [s.legacy for s in samples if s.legacy is not None]
    if len(legacy) == len(samples):
        return math.fsum(legacy) / len(legacy), "legacy on the same requests"
    stored = baseline.hedge_effectiveness if baseline is not None else None
    return stored, "stored baseline"
