"""Market regimes from trend and annualized volatility: bullish, bearish, volatile, sideways."""

from __future__ import annotations

import numpy as np

from models.indicators import Frame, realized_vol, sma

REGIMES = ("bullish", "bearish", "volatile", "sideways")


def states(
    close: Frame,
    *,
    bull_trend: float = 0.02,
    bear_trend: float = -0.02,
    volatile: float = 0.30,
) -> tuple[np.ndarray, Frame, Frame]:
    """(labels, trend, volatility) per session, for one symbol (a Series) or a wide panel
    (a DataFrame, one column per symbol); labels is an array of close's shape.

    trend = SMA20 / SMA50 - 1; volatility = 20-session annualized. High volatility wins
    over trend; sessions without enough history are 'sideways'."""
    label, trend, vol, _ = states_with(
        close, bull_trend=bull_trend, bear_trend=bear_trend, volatile=volatile
    )
    return label, trend, vol


def states_with(
    close: Frame,
    *,
    bull_trend: float = 0.02,
    bear_trend: float = -0.02,
    volatile: float = 0.30,
) -> tuple[np.ndarray, Frame, Frame, dict[str, Frame]]:
    """`states` and the indicators it computed (sma_20, sma_50, realized_vol), for
    whatever reads them too (`signals.votes`' known)."""
    fast, slow = sma(close, 20), sma(close, 50)
    trend = fast / slow - 1
    vol = realized_vol(close, 20)
    label = labels(trend, vol, bull_trend=bull_trend, bear_trend=bear_trend, volatile=volatile)
    return label, trend, vol, {"sma_20": fast, "sma_50": slow, "realized_vol": vol}


def labels(
    trend: Frame,
    vol: Frame,
    *,
    bull_trend: float = 0.02,
    bear_trend: float = -0.02,
    volatile: float = 0.30,
) -> np.ndarray:
    """`states`' labels from its trend and volatility (when those are already computed)."""
    return np.select(
        [
            (vol > volatile).to_numpy(),
            (trend > bull_trend).to_numpy(),
            (trend < bear_trend).to_numpy(),
        ],
        ["volatile", "bullish", "bearish"],
        default="sideways",
    )
