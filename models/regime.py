"""Market regimes from trend and annualized volatility: bullish, bearish, volatile, sideways."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.indicators import realized_vol, sma

REGIMES = ("bullish", "bearish", "volatile", "sideways")


def classify(
    close: pd.Series,
    *,
    bull_trend: float = 0.02,
    bear_trend: float = -0.02,
    volatile: float = 0.30,
) -> pd.DataFrame:
    """Per-session regime. trend = SMA20 / SMA50 - 1; volatility = 20-session annualized.

    High volatility wins over trend; sessions without enough history are 'sideways'.
    """
    trend = sma(close, 20) / sma(close, 50) - 1
    vol = realized_vol(close, 20)
    label = np.select(
        [vol > volatile, trend > bull_trend, trend < bear_trend],
        ["volatile", "bullish", "bearish"],
        default="sideways",
    )
    return pd.DataFrame({"regime": label, "trend": trend, "volatility": vol}, index=close.index)
