"""VaRCalculationEngine: the decomposed candidate for ``var_engine`` (vectorised numpy core).

Conventions in ``runbook.engines.conventions``: numpy quantile ``method="linear"``, ES as the mean
of losses >= VaR, loss positive, square-root-of-time horizon scaling, delta-normal with zero mean.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from runbook.engines._calls import coerce_request
from runbook.engines._random import cholesky, correlated_normals
from runbook.engines.batches import VaRBatch, VaRSimulationBatch
from runbook.engines.conventions import QUANTILE_METHOD
from runbook.engines.requests import VaRMethod, VaRRequest, VaRResult

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


class VaRCalculationEngine:
    """Historical, parametric and Monte Carlo VaR / ES, one request or a whole batch at once."""

    quantile_method: str = QUANTILE_METHOD

    async def calculate_var(self, request: VaRRequest | None = None, /, **fields: object) -> VaRResult:
        """The ADR's async entry point: ``await engine.calculate_var(returns=..., ...)``."""
        return self.calculate_var_sync(request, **fields)

    def calculate_var_sync(self, request: VaRRequest | None = None, /, **fields: object) -> VaRResult:
        """VaR and ES of one request, positive currency over ``horizon_days``."""
        req = coerce_request(VaRRequest, request, fields)
        scale = np.sqrt(req.horizon_days)
        if req.method is VaRMethod.PARAMETRIC:
            pnl = self._pnl(req.returns[None], req.weights[None], np.array([req.notional]))
            var, es = self._parametric(pnl, np.array([req.confidence]))
            return VaRResult(float(var[0] * scale), float(es[0] * scale))
        if req.method is VaRMethod.MONTE_CARLO:
            covariance = np.cov(req.returns, rowvar=False, ddof=1).reshape(req.weights.size, -1)
            draws = correlated_normals(cholesky(covariance), req.mc_paths, seed=req.seed)
            losses = -req.notional * (np.expm1(draws) @ req.weights)
        else:
            losses = -req.notional * (np.expm1(req.returns) @ req.weights)
        return self.var_from_losses(losses, confidence=req.confidence, horizon_days=req.horizon_days)

    def var_batch(self, batch: VaRBatch) -> dict[str, np.ndarray]:
        """Per scenario: historical ``var``/``es`` and parametric ``var_parametric``/``es_parametric``."""
        pnl = self._pnl(batch.returns, batch.weights, batch.notional)
        scale = np.sqrt(batch.horizon_days)
        var, es = self._historical(-pnl, batch.confidence)
        var_p, es_p = self._parametric(pnl, batch.confidence)
        return {
            "var": var * scale,
            "es": es * scale,
            "var_parametric": var_p * scale,
            "es_parametric": es_p * scale,
        }

    def simulate_losses(self, batch: VaRSimulationBatch) -> np.ndarray:
        """Loss (currency, positive) of each draw's portfolio under full revaluation."""
        index = batch.portfolio_index
        simple = np.expm1(batch.returns)
        return -batch.notional[index] * np.einsum("na,na->n", simple, batch.weights[index])

    def var_from_losses(self, losses: np.ndarray, *, confidence: float, horizon_days: int = 1) -> VaRResult:
        """VaR and ES of a loss sample (e.g. simulated), scaled by sqrt(horizon_days)."""
        var, es = self._historical(np.asarray(losses, float)[None, :], np.array([confidence]))
        scale = np.sqrt(horizon_days)
        return VaRResult(float(var[0] * scale), float(es[0] * scale))

    # Cores: arrays of scenarios in, arrays out.
    def _pnl(self, returns: np.ndarray, weights: np.ndarray, notional: np.ndarray) -> np.ndarray:
        return notional[:, None] * np.einsum("swa,sa->sw", np.expm1(returns), weights)

    def _historical(self, losses: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        var = np.empty(losses.shape[0])
        for level in np.unique(confidence):
            rows = confidence == level
            var[rows] = self._quantile(losses[rows], float(level))
        in_tail = losses >= var[:, None]
        es = np.where(in_tail, losses, 0.0).sum(axis=1) / in_tail.sum(axis=1)
        return var, es

    def _quantile(self, losses: np.ndarray, level: float) -> np.ndarray:
        return np.quantile(losses, level, axis=1, method=self.quantile_method)  # type: ignore[call-overload]

    def _parametric(self, pnl: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sigma = pnl.std(axis=1, ddof=1)
        z = ndtri(confidence)
        es_multiplier = _INV_SQRT_2PI * np.exp(-0.5 * z * z) / (1.0 - confidence)
        return z * sigma, es_multiplier * sigma
