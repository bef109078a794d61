"""The range of every call: 80% and 95% bounds on the target close that are right as often
as they say.

The width comes from the volatility forecast made at the call (models.volatility: a
range-based HAR fitted on the symbol's own past); the multiplier is conformally
recalibrated from the symbol's verified calls: the `level` quantile of |realized -
predicted| / sigma over its newest verified calls known by the call's date. A symbol with
fewer than MIN_OWN of them borrows the pooled residuals of every symbol at that horizon;
with fewer than MIN_OWN of those the Gaussian multiplier serves.
"""

from __future__ import annotations

import math

import numpy as np
import sqlite_utils

from models import intervals
from store import predictions as ledger

LEVELS = intervals.LEVELS  # (0.80, 0.95)
MIN_OWN = intervals.MIN_OWN  # verified calls of one symbol and horizon before its own set the width


def multipliers(
    db: sqlite_utils.Database, symbols: list[str], horizons: list[int], known_by: str | None
) -> dict[tuple[str, int], tuple[float, float]]:
    """{(symbol, horizon): (q80, q95)} multipliers of sigma, from outcomes known by `known_by`."""
    groups = ledger.residuals(db, symbols, known_by, per_group=intervals.POOL)
    return choose({key: _scores(rows) for key, rows in groups.items()}, symbols, horizons)


def choose(
    scores: dict[tuple[str, int], np.ndarray], symbols: list[str], horizons: list[int]
) -> dict[tuple[str, int], tuple[float, float]]:
    """The rule itself, on standardized residuals per (symbol, horizon): own, else pooled,
    else Gaussian (see the module docstring)."""
    out = {}
    for h in horizons:
        pooled = np.concatenate([s for (_, gh), s in scores.items() if gh == h] or [np.zeros(0)])
        for sym in symbols:
            own = scores.get((sym, h), np.zeros(0))
            q80, q95 = (intervals.multiplier(own, pooled, level) for level in LEVELS)
            out[(sym, h)] = (q80, q95)
    return out


def _scores(rows: list[tuple[float, float, float, float]]) -> np.ndarray:
    base, pred, actual, sigma = (np.array([r[k] for r in rows]) for k in range(4))
    return intervals.standardized_residual(np.log(actual / base), np.log(pred / base), sigma)


def bounds(base: float, mu: float, sigma: float, q: float) -> tuple[float, float]:
    """Prices base * exp(mu -+ q sigma)."""
    return base * math.exp(mu - q * sigma), base * math.exp(mu + q * sigma)
