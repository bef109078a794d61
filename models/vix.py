"""Implied-volatility context from a stored market series (^VIX), causal by construction.

A value dated D is the series' close on session D (the VIX settles at 16:15 New York time,
before the daemon's collection after the close), so a call made after D's close may use it;
nothing dated after D ever enters D's row (forward-fill only, trailing windows only). A
session without its own value carries the last one for at most STALE_SESSIONS sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PCT_WINDOW = 252  # sessions behind the percentile (about a year)
MIN_PCT = 60  # values needed before a percentile is given
CHANGE_SESSIONS = 5
STALE_SESSIONS = 5

COLUMNS: tuple[str, ...] = ("vix", "vix_pct", "vix_chg_5")


def align(values: pd.Series, sessions: pd.DatetimeIndex) -> pd.Series:
    """The series as known at each session's close: its value dated on or before the session,
    carried at most STALE_SESSIONS sessions."""
    values = values.astype(float).dropna().sort_index()
    if values.empty:
        return pd.Series(np.nan, index=sessions)
    both = sessions.union(pd.DatetimeIndex(values.index))
    return values.reindex(both).ffill(limit=STALE_SESSIONS).reindex(sessions)


def features(values: pd.Series, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Per session: the level, its percentile among the trailing PCT_WINDOW sessions' levels
    (0..1, the share at or below it), and its CHANGE_SESSIONS-session log change."""
    level = align(values, sessions)
    pct = level.rolling(PCT_WINDOW, min_periods=MIN_PCT).rank(pct=True)
    change = np.log(level / level.shift(CHANGE_SESSIONS))
    return pd.DataFrame({"vix": level, "vix_pct": pct, "vix_chg_5": change}, index=sessions)


def log_implied_var(values: pd.Series, sessions: pd.DatetimeIndex) -> np.ndarray:
    """Per session, log of the VIX-implied daily variance (VIX/100)²/252 known at its close
    (`align`: carried at most STALE_SESSIONS sessions; NaN where unknown). The variance
    forecast's optional regressor: bench/bench_context.py kept it on its validation years."""
    level = align(values, sessions).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log((level / 100.0) ** 2 / 252.0)
