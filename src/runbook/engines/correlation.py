"""CorrelationAnalyzer: the candidate for ``correlation_analyzer``.

Pearson correlation matrices of return windows with listwise (complete-case) deletion: a date
with any missing return is dropped for every pair, so each matrix is positive semi-definite.
"""

from __future__ import annotations

import numpy as np

from runbook.engines._calls import coerce_request
from runbook.engines.batches import ReturnWindowBatch
from runbook.engines.requests import CorrelationRequest, CorrelationResult


def pair_names(assets: int) -> tuple[str, ...]:
    """Metric names of the upper triangle: rho_0_1, rho_0_2, ..., in row order."""
    upper, lower = np.triu_indices(assets, k=1)
    return tuple(f"rho_{i}_{j}" for i, j in zip(upper, lower, strict=True))


class CorrelationAnalyzer:
    """Correlation matrices of many windows at once."""

    async def calculate_correlations(
        self, request: CorrelationRequest | None = None, /, **fields: object
    ) -> CorrelationResult:
        """Async entry point."""
        return self.calculate_correlations_sync(request, **fields)

    def calculate_correlations_sync(
        self, request: CorrelationRequest | None = None, /, **fields: object
    ) -> CorrelationResult:
        """Upper triangle of one window's correlation matrix."""
        req = coerce_request(CorrelationRequest, request, fields)
        matrix = self.correlation_matrices(req.returns[None])[0]
        upper = np.triu_indices(matrix.shape[0], k=1)
        return CorrelationResult(tuple(float(value) for value in matrix[upper]))

    def correlation_batch(self, batch: ReturnWindowBatch) -> dict[str, np.ndarray]:
        """Each upper-triangle correlation (``rho_i_j``) of every window."""
        matrices = self.correlation_matrices(batch.returns)
        assets = matrices.shape[1]
        upper, lower = np.triu_indices(assets, k=1)
        return {name: matrices[:, i, j] for name, i, j in zip(pair_names(assets), upper, lower, strict=True)}

    def correlation_matrices(self, returns: np.ndarray) -> np.ndarray:
        """(scenarios, assets, assets) correlation matrices."""
        days, assets = returns.shape[1], returns.shape[2]
        # A NaN in any asset makes the row's dot product with ones NaN: one BLAS pass finds complete dates.
        complete = np.isfinite(returns @ np.ones(assets))[:, :, None]
        count = complete.sum(axis=1)[:, :, None]
        filled = np.where(complete, returns, 0.0)
        mean = (np.ones(days) @ filled)[:, :, None] / count
        # Co-moments about zero minus the mean correction: one batched matrix product.
        covariance = filled.transpose(0, 2, 1) @ filled - count * (mean @ mean.transpose(0, 2, 1))
        scale = np.sqrt(np.einsum("saa->sa", covariance))
        return covariance / (scale[:, :, None] * scale[:, None, :])
