"""The portfolios and hedge books scenarios are built from (over the bundled assets spx, nasdaq, wti)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Linear positions: ``weights`` of ``notional`` (currency) per asset; VaR at ``confidence``
    over ``horizon_days``."""

    portfolio_id: str
    weights: tuple[float, ...]
    notional: float
    confidence: float = 0.99
    horizon_days: int = 1

    @property
    def long_only(self) -> bool:
        return all(w >= 0 for w in self.weights)


@dataclass(frozen=True, slots=True)
class OptionLeg:
    """One option of a book: strike as a fraction of the underlying, days to expiry, quantity."""

    moneyness: float
    expiry_days: float
    quantity: float
    is_call: bool


@dataclass(frozen=True, slots=True)
class HedgeBook:
    """A spot exposure (currency) hedged with futures on another index, plus options on that index."""

    book_id: str
    spot: int  # asset column of the exposure
    futures: int  # asset column of the futures and the options' underlying
    exposure: float
    multiplier: float
    legs: tuple[OptionLeg, ...]
    rate: float = 0.02
    dividend_yield: float = 0.015


PORTFOLIOS: tuple[Portfolio, ...] = (
    Portfolio("P01-equity", (0.6, 0.4, 0.0), 10_000_000.0),
    Portfolio("P02-balanced-10d", (0.4, 0.3, 0.3), 25_000_000.0, 0.99, 10),
    Portfolio("P03-energy", (0.1, 0.1, 0.8), 5_000_000.0, 0.975),
    Portfolio("P04-long-short", (1.2, -0.5, 0.3), 8_000_000.0),
    Portfolio("P05-nasdaq", (0.0, 1.0, 0.0), 1_000_000.0, 0.95),
    Portfolio("P06-spx", (1.0, 0.0, 0.0), 50_000_000.0),
    Portfolio("P07-spx-oil-5d", (0.5, 0.0, 0.5), 8_000_000.0, 0.95, 5),
    Portfolio("P08-equal-999", (1 / 3, 1 / 3, 1 / 3), 12_000_000.0, 0.999),
)

_BOOK_A = (
    OptionLeg(0.95, 30, 120.0, False),
    OptionLeg(1.00, 60, -80.0, True),
    OptionLeg(1.05, 91, 60.0, True),
    OptionLeg(0.90, 182, -40.0, False),
)
_BOOK_B = (
    OptionLeg(1.00, 45, -100.0, True),
    OptionLeg(1.00, 45, -100.0, False),
    OptionLeg(1.10, 120, 50.0, True),
    OptionLeg(0.85, 270, 30.0, False),
)

HEDGE_BOOKS: tuple[HedgeBook, ...] = (
    HedgeBook("B01-ndx-vs-es", spot=1, futures=0, exposure=10_000_000.0, multiplier=50.0, legs=_BOOK_A),
    HedgeBook("B02-spx-vs-nq", spot=0, futures=1, exposure=25_000_000.0, multiplier=20.0, legs=_BOOK_B),
    HedgeBook("B03-ndx-straddles", spot=1, futures=0, exposure=5_000_000.0, multiplier=50.0, legs=_BOOK_B),
    HedgeBook(
        "B04-ndx-big-contract", spot=1, futures=0, exposure=2_000_000.0, multiplier=250.0, legs=_BOOK_A
    ),
)


def weights_matrix(portfolios: tuple[Portfolio, ...]) -> np.ndarray:
    """(portfolios, assets) weights."""
    return np.array([p.weights for p in portfolios], dtype=np.float64)


def option_arrays(book: HedgeBook, underlying: float) -> tuple[np.ndarray, ...]:
    """(strikes, expiry_days, quantities, is_call) of a book at an underlying price."""
    legs = book.legs
    return (
        np.array([leg.moneyness * underlying for leg in legs]),
        np.array([leg.expiry_days for leg in legs], dtype=np.float64),
        np.array([leg.quantity for leg in legs]),
        np.array([leg.is_call for leg in legs]),
    )
