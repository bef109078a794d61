"""Hour-ahead calls: forecasts of the h-session-hour return, with ranges that know the hour.

Intraday returns carry a strong time-of-day variance pattern (the first hour of a US session,
which also holds the overnight gap, moves about three times as much as a midday hour). A
range with one variance for every hour is too narrow at the open and too wide at midday.
So the variance of the return from the close of bar t to the close of bar t+h is

    sigma^2(t, h) = level(t) * sum of profile(t)[slot] over the slots of bars t+1 .. t+h

- `profile(t)[s]`: the mean squared one-bar return of slot s (0-based hour of the session;
  slot 0's return runs from the previous session's last close, so it holds the overnight
  gap) over that slot's newest PROFILE_SESSIONS bars closed by t, divided by the mean over
  slots (so an average hour is 1). Until a slot has PROFILE_MIN bars, every slot reads 1.
- `level(t)`: an EWMA (weight LEVEL_ALPHA per bar) of the deseasonalized squared returns
  r^2 / profile[slot] up to bar t: the recent variance of an average hour.
- the slots of bars t+1 .. t+h come from the exchange calendar (the caller passes the grid
  of session hours), never from the data: which hours lie ahead is known in advance.

With `flat=True` the profile is 1 everywhere: the flat-variance range, kept to measure
what the profile is worth (bench/bench_intraday.py).

The 80% and 95% ranges are mu +- q * sigma with q the split-conformal quantile
(`models.intervals.causal_conformal_q`, as the daily ranges' pools) of the standardized
residuals |r - mu| / sigma of the same forecast's earlier calls whose target bar had closed
by the call, one pool per hour of the session of the target bar (the newest POOL of them;
all hours' newest 10 x POOL until that hour has MIN_OWN; the Gaussian z before that).

The direction rule (`MODEL_VERSION`) is a stated, untuned rule, not a fitted model: the
one-session trend z = (return over the last TREND_BARS bars) / (its expected std); where
|z| >= Z_CALL the expected return leans LEAN * z * sigma its way, else it is 0. Class
probabilities are those of a normal with that mean and sigma against the FLAT band
(outcomes.FLAT_K * sigma), and the call is `outcomes.call_of` of them (FLAT when mu = 0).
Everything at bar t is computed from bars up to t only (tests cut the data at t and
compare).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from models import intervals, outcomes

MODEL_VERSION = "hourly-rules-v1"
PROFILE_SESSIONS = 60  # bars per slot behind the profile (about three months)
PROFILE_MIN = 10  # bars of every slot before the profile is used
LEVEL_ALPHA = 0.05  # EWMA weight of the newest deseasonalized squared return (per bar)
LEVEL_MIN = 14  # bars before the level is trusted (two sessions)
TREND_BARS = 7  # one session of bars behind the trend vote
Z_CALL = 1.0  # |trend z| that makes a call lean
LEAN = 0.1  # how far it leans, in sigmas per unit of z
POOL = intervals.POOL
MIN_OWN = intervals.MIN_OWN

COLUMNS = (
    "target",
    "target_slot",
    "target_session",
    "known_at",
    "mu",
    "sigma",
    "band",
    "p_down",
    "p_flat",
    "p_up",
    "call",
    "majority",
    "last_move",
    "realized",
    "q80",
    "q95",
)


def one_bar_returns(close: pd.Series) -> pd.Series:
    """Log return of each bar from the previous stored bar's close (a session's first bar
    from the last close of the session before: it holds the overnight gap)."""
    return pd.Series(np.log(close.to_numpy(float)), index=close.index).diff()


def slot_profile(
    r: pd.Series, slots: np.ndarray, n_slots: int, *, flat: bool = False
) -> np.ndarray:
    """(bars x n_slots) the profile known at each bar's close (see the module docstring)."""
    n = len(r)
    if flat:
        return np.ones((n, n_slots))
    sq = (r.to_numpy(float)) ** 2
    means = np.full((n, n_slots), np.nan)
    for s in range(n_slots):
        at = np.flatnonzero(slots == s)
        if not len(at):
            continue
        rolled = (
            pd.Series(sq[at]).rolling(PROFILE_SESSIONS, min_periods=PROFILE_MIN).mean().to_numpy()
        )
        col = np.full(n, np.nan)
        col[at] = rolled
        means[:, s] = pd.Series(col).ffill().to_numpy()
    ready = np.isfinite(means).all(axis=1)
    out = np.ones((n, n_slots))
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ready] = means[ready] / means[ready].mean(axis=1, keepdims=True)
    return out


def forecasts(
    bars: pd.DataFrame,
    grid: pd.DataFrame,
    h: int,
    *,
    flat: bool = False,
    by_slot: bool = True,
    last_only: bool = False,
) -> pd.DataFrame:
    """The h-hour forecast made at the close of every bar of `bars` (a `store.hourly` frame
    of one symbol, time order), with its range multipliers and, where the target bar is in
    `bars`, the realized log return. `grid` (`assistant.calendar.bar_grid`) must cover every
    session of `bars` and at least h bars after the last. `last_only`: the multipliers of
    the last row only (the cycle's call; the same numbers, without replaying the pool).
    `flat` / `by_slot` False: the variants the bench compares (one variance for every hour;
    one conformal pool for every hour)."""
    close = bars["close"].astype(float)
    n = len(bars)
    n_slots = int(max(grid["slot"].max(), bars["slot"].max())) + 1 if n else 1
    r = one_bar_returns(close)
    slots = bars["slot"].to_numpy(int)
    prof = slot_profile(r, slots, n_slots, flat=flat)
    u = r.to_numpy(float) ** 2 / prof[np.arange(n), slots]
    level = (
        pd.Series(u).ewm(alpha=LEVEL_ALPHA, adjust=False, ignore_na=True).mean().to_numpy(copy=True)
    )
    level[: min(LEVEL_MIN, n)] = np.nan

    pos = grid.index.get_indexer(bars.index)
    if (pos < 0).any():
        raise ValueError("bars off the calendar's session hours (or a grid that misses them)")
    if len(pos) and pos.max() + h >= len(grid):
        raise ValueError("the grid of session hours must reach h bars past the last bar")
    grid_slots = grid["slot"].to_numpy(int)
    ahead = pos[:, None] + np.arange(1, h + 1)[None, :]
    var_units = np.take_along_axis(prof, grid_slots[ahead], axis=1).sum(axis=1)
    sigma = np.sqrt(level * var_units)

    logc = np.log(close.to_numpy())
    trend = np.full(n, np.nan)
    if n > TREND_BARS:
        trend[TREND_BARS:] = logc[TREND_BARS:] - logc[:-TREND_BARS]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = trend / np.sqrt(level * TREND_BARS)
    mu = np.where(np.abs(np.nan_to_num(z)) >= Z_CALL, LEAN * np.nan_to_num(z) * sigma, 0.0)
    band = outcomes.FLAT_K * sigma
    with np.errstate(invalid="ignore", divide="ignore"):
        p_down = ndtr((-band - mu) / sigma)
        p_up = 1.0 - ndtr((band - mu) / sigma)
    p_flat = 1.0 - p_down - p_up
    probs = np.column_stack([p_down, p_flat, p_up])
    call = np.where(mu == 0, "flat", outcomes.call_of(np.nan_to_num(probs), mu)).astype(object)
    call[~np.isfinite(sigma)] = "flat"

    closes = pd.DatetimeIndex(grid["close"])
    target_pos = pos + h
    targets = grid.index[target_pos]
    target_close = close.reindex(targets).to_numpy(float)
    realized = np.log(target_close / close.to_numpy())
    frame = pd.DataFrame(
        {
            "target": targets,
            "target_slot": grid_slots[target_pos],
            "target_session": grid["session"].to_numpy()[target_pos],
            "known_at": closes.take(target_pos),
            "mu": mu,
            "sigma": sigma,
            "band": band,
            "p_down": p_down,
            "p_flat": p_flat,
            "p_up": p_up,
            "call": call,
            "majority": outcomes.causal_majority(close, h).to_numpy(),
            "last_move": outcomes.last_move(close, h).to_numpy(),
            "realized": realized,
        },
        index=bars.index,
    )
    made = _utc(closes.take(pos))
    known = _utc(closes.take(target_pos))
    score = intervals.standardized_residual(realized, mu, sigma)
    target_slots = grid_slots[target_pos] if by_slot else np.zeros(n, dtype=int)
    if last_only:
        for coverage, name in ((0.80, "q80"), (0.95, "q95")):
            q = _last_q(score, known, target_slots, made[-1], coverage) if n else np.nan
            frame[name] = np.where(np.arange(n) == n - 1, q, np.nan)
        return frame
    # one pool per hour of the session of the target bar (the pooled one until it has
    # MIN_OWN): the shape of the residuals differs by hour too (the first holds the gap)
    pool = pd.DataFrame({"date": made, "known_at": known, "score": score, "symbol": target_slots})
    for coverage, name in ((0.80, "q80"), (0.95, "q95")):
        frame[name] = intervals.causal_conformal_q(pool, coverage, min_n=MIN_OWN, window=POOL)
    return frame


def _last_q(
    score: np.ndarray, known: np.ndarray, slots: np.ndarray, at: np.datetime64, level: float
) -> float:
    """The multiplier `causal_conformal_q` gives the last call (made at `at`) from these
    residuals: the conformal quantile of the newest POOL of its target hour's pool known by
    then; with fewer than MIN_OWN there, of the newest 10 x POOL of all hours; with fewer
    than MIN_OWN of those, the Gaussian z."""
    ok = np.flatnonzero(np.isfinite(score) & (known <= at))
    ok = ok[np.argsort(known[ok], kind="stable")]
    own = ok[slots[ok] == slots[-1]][-POOL:]
    if len(own) >= MIN_OWN:
        return intervals.conformal_quantile(score[own], level)
    pooled = ok[-10 * POOL :]
    if len(pooled) >= MIN_OWN:
        return intervals.conformal_quantile(score[pooled], level)
    return intervals.gaussian_z(level)


def _utc(ts: pd.DatetimeIndex) -> np.ndarray:
    return ts.tz_convert("UTC").tz_localize(None).to_numpy()


def bounds(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The 80% and 95% log-return bounds of each forecast row."""
    mu, sigma = frame["mu"].to_numpy(float), frame["sigma"].to_numpy(float)
    lo80, hi80 = intervals.interval(mu, sigma, frame["q80"].to_numpy(float))
    lo95, hi95 = intervals.interval(mu, sigma, frame["q95"].to_numpy(float))
    return {"lower": lo80, "upper": hi80, "lower95": lo95, "upper95": hi95}
