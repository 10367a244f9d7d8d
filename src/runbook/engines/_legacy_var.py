"""The legacy monolith's VaR code path (part of DriftRiskEngine).

Written the old way on purpose: positions revalued asset by asset, a full sort per scenario with
hand-written linear interpolation, per-scenario covariance matrices for the delta-normal VaR and
the standard library's normal distribution. Same conventions as the candidate, different code.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from runbook.engines._random import cholesky, correlated_normals
from runbook.engines.batches import VaRBatch, VaRSimulationBatch
from runbook.engines.requests import VaRMethod, VaRRequest, VaRResult

_STANDARD_NORMAL = NormalDist()


def _sorted_quantile(ordered: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Linear interpolation at position (n - 1) * c of rows already sorted ascending."""
    n = ordered.shape[1]
    position = (n - 1) * confidence
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, n - 1)
    fraction = position - lower
    rows = np.arange(ordered.shape[0])
    low_value, high_value = ordered[rows, lower], ordered[rows, upper]
    return low_value + (high_value - low_value) * fraction


def _tail_mean(ordered: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Mean of each sorted row's values >= threshold, from reversed cumulative sums."""
    n = ordered.shape[1]
    below = (ordered < threshold[:, None]).sum(axis=1)
    tail_count = n - below
    tail_sums = np.cumsum(ordered[:, ::-1], axis=1)
    return tail_sums[np.arange(ordered.shape[0]), tail_count - 1] / tail_count


def _normal_multipliers(confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z_c and phi(z_c) / (1 - c) per scenario, computed once per distinct level."""
    z = np.empty_like(confidence)
    es = np.empty_like(confidence)
    for level in set(confidence.tolist()):
        quantile = _STANDARD_NORMAL.inv_cdf(level)
        z[confidence == level] = quantile
        es[confidence == level] = _STANDARD_NORMAL.pdf(quantile) / (1.0 - level)
    return z, es


class LegacyVaRMixin:
    """calculate_var / var_batch / simulate_losses / var_from_losses of the monolith."""

    async def calculate_var(self, request: VaRRequest | None = None, /, **fields: object) -> VaRResult:
        """The ADR's async entry point."""
        return self.calculate_var_sync(request, **fields)

    def calculate_var_sync(self, request: VaRRequest | None = None, /, **fields: object) -> VaRResult:
        """One request through the batch code path (the monolith has no separate fast path)."""
        req = request if request is not None else VaRRequest(**fields)  # type: ignore[arg-type]
        if not isinstance(req, VaRRequest):
            from runbook.errors import BadInputData

            raise BadInputData(f"expected a VaRRequest, got {type(req).__name__}")
        if req.method is VaRMethod.MONTE_CARLO:
            return self._legacy_mc_var(req)
        batch = VaRBatch(
            returns=req.returns[None],
            weights=req.weights[None],
            notional=np.array([req.notional]),
            confidence=np.array([req.confidence]),
            horizon_days=np.array([float(req.horizon_days)]),
        )
        out = self.var_batch(batch)
        if req.method is VaRMethod.PARAMETRIC:
            return VaRResult(float(out["var_parametric"][0]), float(out["es_parametric"][0]))
        return VaRResult(float(out["var"][0]), float(out["es"][0]))

    def _legacy_mc_var(self, req: VaRRequest) -> VaRResult:
        centred = req.returns - req.returns.mean(axis=0)
        covariance = centred.T @ centred / (req.returns.shape[0] - 1)
        draws = correlated_normals(cholesky(covariance), req.mc_paths, seed=req.seed)
        losses = np.zeros(req.mc_paths)
        for asset in range(req.weights.size):
            losses -= req.notional * req.weights[asset] * (np.exp(draws[:, asset]) - 1.0)
        return self.var_from_losses(losses, confidence=req.confidence, horizon_days=req.horizon_days)

    def var_batch(self, batch: VaRBatch) -> dict[str, np.ndarray]:
        """Historical and delta-normal VaR / ES per scenario, scaled by sqrt(horizon_days)."""
        scenarios, days, assets = batch.returns.shape
        simple = np.exp(batch.returns) - 1.0
        pnl = np.zeros((scenarios, days))
        for asset in range(assets):
            pnl += batch.weights[:, asset : asset + 1] * simple[:, :, asset]
        pnl *= batch.notional[:, None]
        ordered = np.sort(-pnl, axis=1)
        var = _sorted_quantile(ordered, batch.confidence)
        es = _tail_mean(ordered, var)
        centred = simple - simple.mean(axis=1, keepdims=True)
        covariance = np.einsum("swa,swb->sab", centred, centred) / (days - 1)
        variance = np.einsum("sa,sab,sb->s", batch.weights, covariance, batch.weights)
        sigma = np.sqrt(variance) * batch.notional
        z, es_multiplier = _normal_multipliers(batch.confidence)
        scale = np.sqrt(batch.horizon_days)
        return {
            "var": var * scale,
            "es": es * scale,
            "var_parametric": z * sigma * scale,
            "es_parametric": es_multiplier * sigma * scale,
        }

    def simulate_losses(self, batch: VaRSimulationBatch) -> np.ndarray:
        """Loss of each draw's portfolio, revalued asset by asset."""
        losses = np.zeros(len(batch))
        notional = batch.notional[batch.portfolio_index]
        for asset in range(batch.returns.shape[1]):
            weight = batch.weights[batch.portfolio_index, asset]
            losses -= notional * weight * (np.exp(batch.returns[:, asset]) - 1.0)
        return losses

    def var_from_losses(self, losses: np.ndarray, *, confidence: float, horizon_days: int = 1) -> VaRResult:
        """VaR and ES of a loss sample by full sort."""
        ordered = np.sort(np.asarray(losses, float))[None, :]
        var = _sorted_quantile(ordered, np.array([confidence]))
        es = _tail_mean(ordered, var)
        scale = np.sqrt(horizon_days)
        return VaRResult(float(var[0] * scale), float(es[0] * scale))
