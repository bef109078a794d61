"""The range of every call: 80% and 95% bounds on the target close that are right as often
as they say, and that widen within days of a storm and relax after it.

The width comes from the volatility forecast made at the call (models.volatility: a
range-based HAR fitted on the symbol's own past); the multiplier is adaptive conformal
(models.intervals.AdaptiveRanges): the verified calls known by the call's date, replayed
session by session in the order their outcomes became known, set a conformal quantile of
|realized - predicted| / sigma whose level moves after each session's misses and hits. A symbol with fewer than MIN_OWN verified
calls borrows the pooled state of every symbol at that horizon; with fewer than MIN_OWN of
those the Gaussian multiplier serves. The backtest reaches the same multipliers through
`intervals.adaptive_q` (the same state, fed in the same order).
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
    rows = ledger.residuals(db, symbols, known_by)
    out: dict[tuple[str, int], tuple[float, float]] = {}
    for h in horizons:
        mine = [r for r in rows if r[1] == h]
        sessions: dict[str, list[tuple[object, float]]] = {}
        for r, z in zip(mine, _scores(mine), strict=True):
            sessions.setdefault(r[2], []).append((r[0], z))
        state = intervals.replay(list(sessions.values()))  # dicts keep the ledger's order
        for sym in symbols:
            q80, q95 = state.multipliers(sym)
            out[(sym, h)] = (q80, q95)
    return out


def _scores(rows: list[tuple[str, int, str, float, float, float, float]]) -> list[float]:
    if not rows:
        return []
    base, pred, actual, sigma = (np.array([r[k] for r in rows]) for k in range(3, 7))
    z = intervals.standardized_residual(np.log(actual / base), np.log(pred / base), sigma)
    return [float(v) for v in z]


def bounds(base: float, mu: float, sigma: float, q: float) -> tuple[float, float]:
    """Prices base * exp(mu -+ q sigma)."""
    return base * math.exp(mu - q * sigma), base * math.exp(mu + q * sigma)
