"""Rule-based signals, each a vote in [-1, 1] per session (+1 expects a rise).

rsi: oversold (< 30) votes up, overbought (> 70) votes down.
macd: the sign of the MACD histogram.
cross: golden cross (SMA50 above SMA200) votes up, death cross votes down.
regime: bullish votes up, bearish down, volatile and sideways abstain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from models import regime
from models.indicators import Frame, macd_hist, rsi, sma

SIGNALS = ("rsi", "macd", "cross", "regime")


def inputs(close: Frame, known: Mapping[str, Frame] | None = None) -> dict[str, Frame]:
    """The indicators of `close` the votes read besides the regime labels (rsi, macd_hist,
    sma_50, sma_200), each from `known` where it is there."""
    known = known or {}

    def have(name: str, compute: Callable[[], Frame]) -> Frame:
        return known[name] if name in known else compute()

    return {
        "rsi": have("rsi", lambda: rsi(close)),
        "macd_hist": have("macd_hist", lambda: macd_hist(close)),
        "sma_50": have("sma_50", lambda: sma(close, 50)),
        "sma_200": have("sma_200", lambda: sma(close, 200)),
    }


def votes(
    close: Frame,
    labels: np.ndarray | None = None,
    known: Mapping[str, Frame] | None = None,
    **regime_thresholds: float,
) -> dict[str, np.ndarray]:
    """Each signal's votes, an array of close's shape (a Series, or a wide panel with one
    column per symbol); 0 where undefined. `labels`: the regime labels when already known;
    `known`: indicators of `close` already computed (rsi, macd_hist, sma_20, sma_50, sma_200,
    realized_vol: what `models.indicators` gives for close with the defaults used here)."""
    known = known or {}

    def have(name: str, compute: Callable[[], Frame]) -> Frame:
        return known[name] if name in known else compute()

    if labels is None:
        if {"sma_20", "sma_50", "realized_vol"} <= known.keys():
            trend = known["sma_20"] / known["sma_50"] - 1
            labels = regime.labels(trend, known["realized_vol"], **regime_thresholds)
        else:
            labels = regime.states(close, **regime_thresholds)[0]
    got = inputs(close, known)
    r, hist = got["rsi"].to_numpy(), got["macd_hist"].to_numpy()
    fast, slow = got["sma_50"].to_numpy(), got["sma_200"].to_numpy()
    with np.errstate(invalid="ignore"):
        out = {
            "rsi": np.where(r < 30, 1.0, np.where(r > 70, -1.0, 0.0)),
            "macd": np.sign(np.nan_to_num(hist)),
            "cross": np.where(np.isnan(slow), 0.0, np.sign(fast - slow)),
            "regime": np.where(labels == "bullish", 1.0, np.where(labels == "bearish", -1.0, 0.0)),
        }
    return {k: np.nan_to_num(v) for k, v in out.items()}
