"""Simulated hourly bars that roll up exactly to given daily bars, for tests, benchmarks and
the offline demo (no public package ships real hourly stock data).

Stated model: the session's hourly log returns X_1 .. X_n are independent, X_i ~ N(0,
sigma^2 * w_i / sum(w)), with `w` a U-shaped per-hour variance profile (`PROFILE`: the first
hour carries about 2.5 times the variance of a midday hour, the last about 1.5 times, as
measured for US equities in the intraday-seasonality literature), and sigma the session's
volatility estimated from its daily range (Parkinson: sigma = ln(high/low) / (2 sqrt(ln 2)),
about range / 1.665). The daily bar fixes their sum, D = ln(close/open); the hours are drawn
from the law of X given that sum, exactly:

    X_i = D * w_i / sum(w) + Z_i - w_i / sum(w) * sum(Z),   Z_i ~ N(0, sigma^2 w_i / sum(w))

so the expected path follows the cumulative variance share (not the clock), and the
hours of a session do not share the day's sign beyond what the day's move implies. The
overnight gap is the daily bar's own (previous close to open). Bar closes are clipped into
the daily range and the bars holding the daily high and low are given them, so a
session's hourly bars roll up to its daily bar: first open = open, last close = close, max
high = high, min low = low, volumes sum to the daily volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assistant import calendar

# Relative variance of each hour of a 7-bar US session (9:30 ... 15:30, the last one half
# an hour long); sessions of other lengths take the profile stretched to their bar count.
PROFILE = np.array([2.5, 1.2, 0.9, 0.8, 0.8, 1.0, 1.5])
VOLUME_PROFILE = np.array([2.2, 1.2, 0.9, 0.8, 0.8, 1.0, 1.6])
# Parkinson's estimator of a session's volatility divides its log range by 2 sqrt(ln 2)
# (about 1.665; unbiased in the square for a Brownian day)
PARKINSON = 2.0 * np.sqrt(np.log(2.0))


def _stretch(profile: np.ndarray, n: int) -> np.ndarray:
    if n == len(profile):
        return profile
    out: np.ndarray = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(profile)), profile)
    return out


def synthetic_hours(daily: pd.DataFrame, exchange: str = "XNYS", *, seed: int = 0) -> pd.DataFrame:
    """Hourly bars (the `store.hourly` frame shape) for every session of `daily` (a frame
    with open, high, low, close, volume indexed by session date)."""
    rng = np.random.default_rng(seed)
    parts = []
    days = pd.DatetimeIndex([pd.Timestamp(str(d)) for d in daily.index])
    days = days.tz_localize(None).normalize() if days.tz is not None else days.normalize()
    # the sessions' hours in one calendar lookup (as `calendar.session_hours` gives them)
    bounds = (
        calendar.session_bounds(exchange, days.min(), days.max())
        if len(days)
        else pd.DataFrame({"open": [], "bars": []})
    )
    counts = bounds["bars"].reindex(days).fillna(0).to_numpy(dtype=int)
    first = pd.DatetimeIndex(bounds["open"].reindex(days))
    cols = [daily[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close")]
    volumes = daily["volume"].to_numpy(dtype=float) if "volume" in daily else np.zeros(len(daily))
    hour = pd.Timedelta(hours=1).value
    for i, key in enumerate(days):
        n = int(counts[i])
        if n == 0:
            continue
        starts = first[i].value + np.arange(n) * hour  # ns since the epoch
        o, h, lo, c = (float(col[i]) for col in cols)
        share = _stretch(PROFILE, n)
        share = share / share.sum()  # each hour's share of the session's variance
        sigma = max(np.log(h / lo), 0.0) / PARKINSON  # the session's volatility
        z = rng.normal(0.0, 1.0, n) * sigma * np.sqrt(share)
        steps = np.log(c / o) * share + z - share * z.sum()  # sums to ln(c/o)
        closes = np.clip(o * np.exp(np.cumsum(steps)), lo, h)
        closes[-1] = c
        opens = np.r_[o, closes[:-1]]
        highs = np.maximum(opens, closes)
        lows = np.minimum(opens, closes)
        highs[int(rng.integers(n)) if h > max(highs) else int(np.argmax(highs))] = h
        lows[int(rng.integers(n)) if lo < min(lows) else int(np.argmin(lows))] = lo
        highs = np.maximum(highs, np.maximum(opens, closes))
        lows = np.minimum(lows, np.minimum(opens, closes))
        vol = _stretch(VOLUME_PROFILE, n)
        volume = np.round(volumes[i] * vol / vol.sum())
        volume[-1] = volumes[i] - volume[:-1].sum()
        # one frame at the end: a DataFrame per session costs more than the session's maths
        parts.append((key, starts, opens, highs, lows, closes, volume))
    if not parts:
        return pd.DataFrame(
            columns=["session", "slot", "open", "high", "low", "close", "volume", "flagged"],
            index=pd.DatetimeIndex([], name="ts"),
        )
    sizes = [len(p[1]) for p in parts]
    index = pd.DatetimeIndex(np.concatenate([p[1] for p in parts]), name="ts")
    return pd.DataFrame(
        {
            "session": pd.DatetimeIndex(np.repeat([p[0] for p in parts], sizes)),
            "slot": np.concatenate([np.arange(n) for n in sizes]),
            "open": np.concatenate([p[2] for p in parts]),
            "high": np.concatenate([p[3] for p in parts]),
            "low": np.concatenate([p[4] for p in parts]),
            "close": np.concatenate([p[5] for p in parts]),
            "volume": np.concatenate([p[6] for p in parts]),
            "flagged": 0,
        },
        index=index.tz_localize("UTC").tz_convert(first.tz),
    )
