"""Simulated hourly bars that roll up exactly to given daily bars, for tests, benchmarks and
the offline demo (no public package ships real hourly stock data).

Stated model: within a session the log price follows a Brownian bridge from the day's open
to its close whose per-hour variance follows a U-shaped profile (`PROFILE`: the first hour
carries about 2.5 times the variance of a midday hour, the last about 1.5 times), as
measured for US equities in the intraday-seasonality literature. The overnight gap is the
daily bar's own (previous close to open). Bar closes are clipped into the daily range and
the bars holding the daily high and low are given them, so a session's hourly bars roll up
to its daily bar: first open = open, last close = close, max high = high, min low = low,
volumes sum to the daily volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assistant import calendar

# Relative variance of each hour of a 7-bar US session (9:30 ... 15:30, the last one half
# an hour long); sessions of other lengths take the profile stretched to their bar count.
PROFILE = np.array([2.5, 1.2, 0.9, 0.8, 0.8, 1.0, 1.5])
VOLUME_PROFILE = np.array([2.2, 1.2, 0.9, 0.8, 0.8, 1.0, 1.6])


def _stretch(profile: np.ndarray, n: int) -> np.ndarray:
    if n == len(profile):
        return profile
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(profile)), profile)


def synthetic_hours(daily: pd.DataFrame, exchange: str = "XNYS", *, seed: int = 0) -> pd.DataFrame:
    """Hourly bars (the `store.hourly` frame shape) for every session of `daily` (a frame
    with open, high, low, close, volume indexed by session date)."""
    rng = np.random.default_rng(seed)
    parts = []
    for day, bar in daily.iterrows():
        starts = calendar.session_hours(exchange, pd.Timestamp(str(day)))
        n = len(starts)
        if n == 0:
            continue
        o, h, lo, c = (float(bar[k]) for k in ("open", "high", "low", "close"))
        w = _stretch(PROFILE, n)
        steps = rng.normal(0.0, np.sqrt(w / w.sum()), n)
        walk = np.cumsum(steps)
        bridge = walk - np.arange(1, n + 1) / n * walk[-1]  # ends at 0
        span = max(np.log(h / lo), 1e-9)
        path = np.log(o) + np.arange(1, n + 1) / n * np.log(c / o) + bridge * span / 2
        closes = np.clip(np.exp(path), lo, h)
        closes[-1] = c
        opens = np.r_[o, closes[:-1]]
        highs = np.maximum(opens, closes)
        lows = np.minimum(opens, closes)
        highs[int(rng.integers(n)) if h > max(highs) else int(np.argmax(highs))] = h
        lows[int(rng.integers(n)) if lo < min(lows) else int(np.argmin(lows))] = lo
        highs = np.maximum(highs, np.maximum(opens, closes))
        lows = np.minimum(lows, np.minimum(opens, closes))
        vol = _stretch(VOLUME_PROFILE, n)
        volume = np.round(float(bar.get("volume", 0.0)) * vol / vol.sum())
        volume[-1] = float(bar.get("volume", 0.0)) - volume[:-1].sum()
        parts.append(
            pd.DataFrame(
                {
                    "session": pd.Timestamp(str(day)).normalize(),
                    "slot": np.arange(n),
                    "open": opens,
                    "high": highs,
                    "low": lows,
                    "close": closes,
                    "volume": volume,
                    "flagged": 0,
                },
                index=pd.DatetimeIndex(starts, name="ts"),
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["session", "slot", "open", "high", "low", "close", "volume", "flagged"],
            index=pd.DatetimeIndex([], name="ts"),
        )
    return pd.concat(parts)
