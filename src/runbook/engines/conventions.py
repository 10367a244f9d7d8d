"""The calculation conventions every shipped engine follows and every validation report states.

Each of these moves results by more than the ADR's 0.001% when changed (see the reference oracles),
so they are named constants, not defaults buried in code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: numpy quantile method for historical and Monte Carlo VaR (Hyndman-Fan type 7: position (n-1)c).
QUANTILE_METHOD = "linear"
#: Trading days per year used to annualise returns and volatilities.
TRADING_DAYS_PER_YEAR = 252
#: Calendar days per year for option time to expiry (ACT/365).
DAYS_PER_YEAR = 365.0
#: Monte Carlo windows for window-based components (market data, performance, correlation), in days.
MC_WINDOW_DAYS = 20


@dataclass(frozen=True, slots=True)
class Conventions:
    """Human-readable statement of the conventions, as printed in every report."""

    quantile_method: str = f"numpy method={QUANTILE_METHOD!r} (Hyndman-Fan 7, position (n-1)*c)"
    expected_shortfall: str = "mean of the losses greater than or equal to the 1-day VaR (tail mean)"
    sign: str = "loss positive: loss = -P&L; VaR and ES are reported as positive currency amounts"
    pnl: str = "full revaluation of linear positions: P&L = notional * sum_i w_i * (exp(r_i) - 1)"
    parametric: str = "delta-normal, zero mean, sample covariance (ddof=1) of simple returns"
    horizon_scaling: str = "square-root of time: VaR_h = sqrt(h) * VaR_1, ES_h = sqrt(h) * ES_1"
    day_count: str = "ACT/365 for option time to expiry"
    annualisation: str = f"{TRADING_DAYS_PER_YEAR} trading days per year for returns and volatility"
    returns: str = "daily log returns; a missing close is never filled: the return spans the gap"
    correlation: str = "Pearson, listwise (complete-case) deletion of dates with any missing return"
    hedge_ratio: str = "minimum variance h* = rho * sigma_S / sigma_F; N* = h* * exposure / contract size"
    hedge_effectiveness: str = "variance reduction 1 - Var(hedged) / Var(unhedged)"
    monte_carlo: str = "common random numbers: one PCG64 stream per seed, Cholesky-correlated, chunked"

    def to_dict(self) -> dict[str, str]:
        """The conventions as a JSON-able mapping."""
        return asdict(self)


CONVENTIONS = Conventions()
