"""Rule-based signals, each a vote in [-1, 1] per session (+1 expects a rise).

rsi: oversold (< 30) votes up, overbought (> 70) votes down.
macd: the sign of the MACD histogram.
cross: golden cross (SMA50 above SMA200) votes up, death cross votes down.
regime: bullish votes up, bearish down, volatile and sideways abstain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.indicators import macd, rsi, sma
from models.regime import classify

SIGNALS = ("rsi", "macd", "cross", "regime")


def evaluate(bars: pd.DataFrame, **regime_thresholds: float) -> pd.DataFrame:
    """Signal votes for every session of `bars` (needs a `close` column); 0 where undefined."""
    close = bars["close"]
    r = rsi(close)
    hist = macd(close)["hist"]
    fast, slow = sma(close, 50), sma(close, 200)
    regime = classify(close, **regime_thresholds)["regime"]
    votes = pd.DataFrame(
        {
            "rsi": np.where(r < 30, 1.0, np.where(r > 70, -1.0, 0.0)),
            "macd": np.sign(hist.fillna(0.0)),
            "cross": np.where(slow.isna(), 0.0, np.sign(fast - slow)),
            "regime": regime.map({"bullish": 1.0, "bearish": -1.0}).fillna(0.0).to_numpy(),
        },
        index=bars.index,
    )
    return votes.fillna(0.0)
