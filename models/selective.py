"""Abstention (call only when the evidence is strong) and ranking skill (information coefficient).

Direction calls: a signed evidence score per row (>0 means UP). `choose_threshold` picks the
smallest |score| cut on VALIDATION rows whose selected calls beat the stronger baseline by a
margin at a minimum coverage; `apply_threshold` turns test scores into UP/DOWN/None
(abstain) with that cut; `selective_report` scores the calls next to the baselines. The
baselines are computed on the SAME selected rows: always-UP, and the causal majority
direction (the majority of outcomes known before the call, supplied by the caller).

Ranking: `information_coefficient` is the daily cross-sectional Spearman correlation of
expected vs realized return, its mean and a t-stat with a Newey-West (Bartlett) standard
error, lag h-1 for overlapping h-session returns (lag 0 = plain t for h=1).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import pandas as pd

from models import metrics, outcomes
from models.base import Forecast
from models.dataset import Dataset
from models.metrics import newey_west_se

UP, DOWN = "UP", "DOWN"
MIN_IC_SYMBOLS = 5  # symbols on a date before its cross-sectional IC counts


def choose_threshold(
    score_val: np.ndarray | pd.Series,
    outcome_val: np.ndarray | pd.Series,
    *,
    majority_up_val: np.ndarray | pd.Series | None = None,
    margin: float = 0.02,
    min_coverage: float = 0.10,
    min_calls: int = 200,
    n_grid: int = 50,
) -> float | None:
    """Smallest |score| threshold whose selected validation calls (|score| >= threshold)
    beat the baseline hit rate on the same rows by `margin`, with coverage >= min_coverage
    and at least `min_calls` calls. None when no threshold qualifies (then: always abstain).

    outcome_val: realized return, scored with the hit rule of models.outcomes (an unchanged
    price is a miss for every call; NaN rows are dropped). majority_up_val: causal-majority
    call per row (True = UP), optional. Only validation rows are looked at; the returned
    value is then applied to test rows.
    """
    score = np.asarray(score_val, dtype=float)
    outcome = np.asarray(outcome_val, dtype=float)
    maj = None if majority_up_val is None else np.asarray(majority_up_val, dtype=bool)
    ok = np.isfinite(score) & np.isfinite(outcome)
    score, outcome = score[ok], outcome[ok]
    if len(score) == 0:
        return None
    call_hit = outcomes.baseline_hit(np.sign(score).astype(int), outcome)
    up_hit = outcomes.baseline_hit(1, outcome)
    maj_hit = None if maj is None else outcomes.baseline_hit(np.where(maj[ok], 1, -1), outcome)
    mag = np.abs(score)
    grid = np.unique(np.quantile(mag, np.linspace(0.0, 1.0 - min_coverage, n_grid)))
    for thr in grid:
        sel = (mag >= thr) & (score != 0)
        if sel.sum() < max(min_calls, 1) or sel.mean() < min_coverage:
            continue
        base = float(up_hit[sel].mean())
        if maj_hit is not None:
            base = max(base, float(maj_hit[sel].mean()))
        if float(call_hit[sel].mean()) >= base + margin:
            return float(thr)
    return None


def apply_threshold(score: np.ndarray | pd.Series, threshold: float | None) -> np.ndarray:
    """Object array of "UP" / "DOWN" where |score| >= threshold (and score != 0), else None."""
    s = np.asarray(score, dtype=float)
    out = np.full(len(s), None, dtype=object)
    if threshold is None:
        return out
    called = np.isfinite(s) & (np.abs(s) >= threshold) & (s != 0)
    out[called & (s > 0)] = UP
    out[called & (s < 0)] = DOWN
    return out


class SelectiveReport(TypedDict):
    n: int
    coverage: float
    hit_rate: float | None
    baseline: float | None  # the stronger baseline's hit rate on the same rows
    p_value: float | None


class InformationCoefficient(TypedDict):
    mean: float
    t: float
    n_days: int
    daily: pd.Series  # the IC per date


def selective_report(
    calls: np.ndarray,
    outcome: np.ndarray | pd.Series,
    majority_up: np.ndarray | pd.Series | None = None,
    *,
    dates: np.ndarray | None = None,
    h: int = 1,
) -> SelectiveReport:
    """Hit rate of the non-None calls, coverage, n, the stronger baseline on the same rows and
    the p-value, all from `models.metrics.directional` (the one scorer); pass `dates` so the
    p-value averages same-day calls (without them each row counts as its own date)."""
    c = np.asarray(calls, dtype=object)
    call = np.where(c == UP, "up", np.where(c == DOWN, "down", "flat")).astype(object)
    r = np.asarray(outcome, dtype=float)
    maj = 1 if majority_up is None else np.where(np.asarray(majority_up, dtype=bool), 1, -1)
    m = metrics.directional(
        call, r, majority=maj, last_move=np.zeros(len(r), int), h=h, dates=dates
    )
    base = m["baselines"][m["stronger_baseline"]]["dir_accuracy"] if m["n"] else None
    return {
        "n": m["n"],
        "coverage": m["coverage"] or 0.0,
        "hit_rate": m["dir_accuracy"],
        "baseline": base,
        "p_value": m["p_value"],
    }


def causal_majority_up(outcome: pd.Series, dates: pd.Series, h: int) -> np.ndarray:
    """For each row, whether UP was the majority of outcomes known before its date: outcomes
    of rows dated at least h sessions earlier (by rank of distinct dates). Ties and no
    history give UP."""
    d = pd.Index(sorted(pd.unique(pd.to_datetime(dates))))
    pos = d.get_indexer(pd.to_datetime(dates))
    r = np.asarray(outcome, dtype=float)
    ok = np.isfinite(r) & (r != 0)
    ups = np.bincount(pos[ok], weights=(r[ok] > 0).astype(float), minlength=len(d))
    cnt = np.bincount(pos[ok], minlength=len(d)).astype(float)
    cum_up, cum_n = np.cumsum(ups), np.cumsum(cnt)
    known_pos = pos - h  # outcomes of dates <= this index are known
    up_known = np.where(known_pos >= 0, cum_up[np.maximum(known_pos, 0)], 0.0)
    n_known = np.where(known_pos >= 0, cum_n[np.maximum(known_pos, 0)], 0.0)
    return up_known >= n_known - up_known


# ---------------------------------------------------------------- information coefficient


def daily_ic(
    frame: pd.DataFrame,
    *,
    date: str = "date",
    expected: str = "expected",
    realized: str = "realized",
    min_symbols: int = MIN_IC_SYMBOLS,
) -> pd.Series:
    """Spearman correlation across symbols of expected vs realized, per date with >=
    min_symbols complete rows (dates where either side is constant are dropped).

    In numpy, all dates at once: the average ranks within a date are multiples of 1/2, their
    deviations from the date's mean rank ((n + 1) / 2) too, and the products' sums multiples
    of 1/4 far below 2**50, so every sum is exact in any order and each IC is bit for bit what
    pandas' groupby rank, mean and sum gave (tests/test_report_speed.py keeps that version);
    the index is the dates in the order groupby sorts them (`pd.factorize(..., sort=True)`)."""
    df = frame[[date, expected, realized]].dropna()
    code, dates = pd.factorize(df[date], sort=True)
    size = np.bincount(code, minlength=len(dates))
    keep = size[code] >= min_symbols
    code = code[keep]
    dev = []
    for name in (expected, realized):
        ranks = _average_ranks(code, df[name].to_numpy(float)[keep])
        mean = np.bincount(code, weights=ranks, minlength=len(dates)) / np.maximum(size, 1)
        dev.append(ranks - mean[code])
    dx, dy = dev
    xy, xx, yy = (
        np.bincount(code, weights=w, minlength=len(dates)) for w in (dx * dy, dx**2, dy**2)
    )
    denom = np.sqrt(xx * yy)
    ok = (size >= min_symbols) & (denom > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ic = xy / denom
    # the index from the dates' numpy values, as groupby built it from the column's
    index = pd.Index(np.asarray(dates), name=date)[ok]
    return pd.Series(ic[ok], index=index, name="ic")


def _average_ranks(group: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each value's rank within its group (1 = smallest; ties share their mean rank): what
    pandas' groupby rank() gives, exactly (a tie block's mean rank is a multiple of 1/2)."""
    n = len(x)
    if not n:
        return np.zeros(0)
    order = np.lexsort((x, group))
    g, v = group[order], x[order]
    first_of_group = np.searchsorted(g, g, side="left")
    block = np.r_[True, (g[1:] != g[:-1]) | (v[1:] != v[:-1])]
    first = np.flatnonzero(block)
    last = np.r_[first[1:], n] - 1
    at = np.cumsum(block) - 1
    ranks = np.empty(n)
    ranks[order] = (first[at] - first_of_group + last[at] - first_of_group + 2) / 2.0
    return ranks


def information_coefficient(
    frame: pd.DataFrame,
    *,
    h: int = 1,
    date: str = "date",
    expected: str = "expected",
    realized: str = "realized",
    min_symbols: int = MIN_IC_SYMBOLS,
) -> InformationCoefficient:
    """Mean daily IC, its Newey-West t-stat (lag h-1), the number of dates and the series."""
    ic = daily_ic(frame, date=date, expected=expected, realized=realized, min_symbols=min_symbols)
    if len(ic) < 2:
        return {"mean": float("nan"), "t": float("nan"), "n_days": len(ic), "daily": ic}
    se = newey_west_se(ic.to_numpy(), lag=max(h - 1, 0))
    mean = float(ic.mean())
    return {
        "mean": mean,
        "t": mean / se if se > 0 else float("nan"),
        "n_days": len(ic),
        "daily": ic,
    }


def choose_gate(part: Dataset, fc: Forecast, i: int) -> float | None:
    """The evidence threshold of horizon index i, chosen on this (validation) part only."""
    h = fc.horizons[i]
    p = fc.probs[part.rows, i]
    return choose_threshold(
        p[:, 2] - p[:, 0],
        part.Y[f"ret_h{h}"].to_numpy()[part.rows],
        majority_up_val=part.Y[f"maj_h{h}"].to_numpy()[part.rows] > 0,
    )
