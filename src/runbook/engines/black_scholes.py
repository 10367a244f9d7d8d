"""Black-Scholes-Merton for European options with a continuous dividend yield, vectorised.

Inputs broadcast: spot and strike in currency, ``years`` to expiry (ACT/365 at the call site),
``rate`` and ``dividend_yield`` continuously compounded per year, ``volatility`` per sqrt(year).
Greeks: delta and gamma per unit of spot, vega per 1.00 of volatility, theta per year (calendar),
rho per 1.00 of rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True, slots=True, eq=False)
class Greeks:
    """Price and sensitivities of each option (arrays broadcast from the inputs)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray


def _pdf(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def greeks(
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    years: np.ndarray | float,
    rate: np.ndarray | float,
    dividend_yield: np.ndarray | float,
    volatility: np.ndarray | float,
    is_call: np.ndarray | bool = True,
) -> Greeks:
    """Price, delta, gamma, vega, theta (per year) and rho of calls (``is_call``) and puts."""
    spot, strike, years = np.asarray(spot, float), np.asarray(strike, float), np.asarray(years, float)
    rate, dividend_yield = np.asarray(rate, float), np.asarray(dividend_yield, float)
    volatility, is_call = np.asarray(volatility, float), np.asarray(is_call, bool)
    sqrt_t = np.sqrt(years)
    vol_sqrt_t = volatility * sqrt_t
    d1 = (np.log(spot / strike) + (rate - dividend_yield + 0.5 * volatility**2) * years) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    sign = np.where(is_call, 1.0, -1.0)
    carry = np.exp(-dividend_yield * years)
    discount = np.exp(-rate * years)
    n_d1, n_d2 = ndtr(sign * d1), ndtr(sign * d2)
    pdf_d1 = _pdf(d1)
    price = sign * (spot * carry * n_d1 - strike * discount * n_d2)
    delta = sign * carry * n_d1
    gamma = carry * pdf_d1 / (spot * vol_sqrt_t)
    vega = spot * carry * pdf_d1 * sqrt_t
    theta = (
        -spot * carry * pdf_d1 * volatility / (2.0 * sqrt_t)
        - sign * rate * strike * discount * n_d2
        + sign * dividend_yield * spot * carry * n_d1
    )
    rho = sign * strike * years * discount * n_d2
    return Greeks(price, delta, gamma, vega, theta, rho)


def price(
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    years: np.ndarray | float,
    rate: np.ndarray | float,
    dividend_yield: np.ndarray | float,
    volatility: np.ndarray | float,
    is_call: np.ndarray | bool = True,
) -> np.ndarray:
    """Option values only (cheaper than ``greeks`` for full revaluation)."""
    spot, strike, years = np.asarray(spot, float), np.asarray(strike, float), np.asarray(years, float)
    vol_sqrt_t = np.asarray(volatility, float) * np.sqrt(years)
    d1 = (np.log(spot / strike) + (rate - dividend_yield) * years) / vol_sqrt_t + 0.5 * vol_sqrt_t
    sign = np.where(np.asarray(is_call, bool), 1.0, -1.0)
    forward_leg = spot * np.exp(-np.asarray(dividend_yield, float) * years) * ndtr(sign * d1)
    strike_leg = strike * np.exp(-np.asarray(rate, float) * years) * ndtr(sign * (d1 - vol_sqrt_t))
    return sign * (forward_leg - strike_leg)
