"""The one random stream both engines and the scenario generator draw from (common random numbers).

Chunk ``j`` of seed ``s`` comes from ``PCG64(SeedSequence([s, j]))``: a chunk can be regenerated on
its own, and the same seed and chunk size give the same draws however the chunks are consumed.
"""

from __future__ import annotations

import numpy as np

from runbook.errors import BadInputData

DEFAULT_CHUNK = 100_000


def cholesky(covariance: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor; BadInputData when the matrix is not positive definite."""
    try:
        return np.linalg.cholesky(np.asarray(covariance, dtype=np.float64))
    except np.linalg.LinAlgError:
        raise BadInputData("covariance matrix is not positive definite; cannot simulate") from None


def standard_normals(rows: int, columns: int, *, seed: int, chunk: int) -> np.ndarray:
    """Chunk ``chunk`` of the stream for ``seed``: (rows, columns) independent N(0, 1)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(chunk)])))
    return rng.standard_normal((rows, columns))


def correlated_normals(
    factor: np.ndarray, rows: int, *, seed: int, chunk: int = 0, mean: np.ndarray | None = None
) -> np.ndarray:
    """(rows, assets) normal draws with covariance ``factor @ factor.T`` (factor from ``cholesky``)."""
    draws = standard_normals(rows, factor.shape[0], seed=seed, chunk=chunk) @ factor.T
    if mean is not None:
        draws += mean
    return draws
