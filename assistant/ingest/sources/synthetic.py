"""A seeded synthetic market for tests and benchmarks: known regimes and a planted signal.

The planted signal is learnable from the past only: the sign of the previous session's
return predicts the next one's with probability `edge` (a momentum effect), so a model
that beats the majority baseline on it has learned something real, and one that
beats it on `edge=0.5` has leaked. Regimes alternate between calm up-trends,
calm down-trends and volatile stretches.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from assistant.errors import NoDataError
from assistant.ingest.sources.base import NORMALIZED_COLUMNS


def synthetic_bars(
    n: int = 1500,
    *,
    seed: int = 0,
    edge: float = 0.5,
    start: str = "2010-01-04",
    base_price: float = 100.0,
    daily_vol: float = 0.012,
) -> pd.DataFrame:
    """`n` business-day bars in the normalized shape. `edge` > 0.5 plants momentum."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n)
    # Regimes: blocks of 60-250 sessions with a drift and a volatility multiplier.
    drift = np.empty(n)
    volmult = np.empty(n)
    i = 0
    while i < n:
        length = int(rng.integers(60, 250))
        kind = rng.choice(["up", "down", "volatile", "flat"], p=[0.35, 0.2, 0.2, 0.25])
        d, v = {
            "up": (0.0008, 1.0),
            "down": (-0.0008, 1.0),
            "volatile": (0.0, 2.5),
            "flat": (0.0, 0.7),
        }[kind]
        drift[i : i + length] = d
        volmult[i : i + length] = v
        i += length
    magnitude = np.abs(rng.normal(0, daily_vol, n)) * volmult
    signs = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    if edge != 0.5:
        follow = rng.random(n) < edge
        for t in range(1, n):
            prev = signs[t - 1]
            signs[t] = prev if follow[t] else -prev
    rets = drift + signs * magnitude
    close = base_price * np.exp(np.cumsum(rets))
    open_ = close * np.exp(-rets * rng.uniform(0.2, 0.8, n))
    spread = np.abs(rng.normal(0, daily_vol / 2, n)) * volmult
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = np.round(rng.lognormal(14, 0.3, n) * (1 + 2 * (volmult > 1)))
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "raw_close": close,
            "adj_factor": 1.0,
            "provisional": 0,
            "flagged": 0,
        },
        index=pd.DatetimeIndex(dates, name="date"),
    )
    return frame[NORMALIZED_COLUMNS]


class SyntheticSource:
    """Any valid symbol gets its own deterministic series (seeded by the symbol)."""

    name = "synthetic"

    def __init__(self, *, edge: float = 0.5, n: int = 2500, start: str = "2010-01-04"):
        self.edge, self.n, self.start = edge, n, start

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        seed = zlib.crc32(symbol.encode())
        frame = synthetic_bars(self.n, seed=seed, edge=self.edge, start=self.start)
        part = frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        if part.empty:
            raise NoDataError(f"synthetic source has no bars for {symbol} in that range")
        return part
