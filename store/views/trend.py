"""The dashboard's accuracy trend: the rolling hit rate of the directional calls next to
the stronger baseline on the same calls, and the rolling coverage of the 80% and 95%
ranges, from the per-session sums triggers keep (`verified_by_target`)."""

from __future__ import annotations

from typing import TypedDict

import sqlite_utils

from store.views.calls import baseline
from vocab.scoring import Baseline, stronger_baseline

TREND_WINDOW = 20  # target sessions per point of the accuracy trend
TREND_POINTS = 250  # most recent target sessions shown in the trend chart


class Trend(TypedDict):
    """The accuracy trend: rolling hit rate vs the stronger baseline, and range coverage."""

    dates: list[str]
    hit: list[float]
    base: list[float]
    window: int
    n: int
    hit_rate: float | None
    base_rate: float | None
    base_name: Baseline  # which baseline `base` and `base_rate` are
    ranges: dict[str, tuple[int, int]]  # "80" / "95": (calls with that range, inside it)
    range_dates: list[str]
    cov80: list[float]
    cov95: list[float]


def accuracy_trend(
    db: sqlite_utils.Database, window: int = TREND_WINDOW, points: int = TREND_POINTS
) -> Trend:
    """Rolling hit rate of the directional calls and the stronger baseline (always-up or the
    causal majority, whichever scored more over all of them) on the same calls, over the last
    `window` target sessions. The p-value lives in `assistant report`, which runs the test."""
    # The per-session sums are kept by triggers as calls are verified (schema m015): one
    # row per target session gives both the points and the totals.
    rows = db.execute(
        "SELECT target_date, n, hits, ups, majs, n80, in80, n95, in95 "
        "FROM verified_by_target ORDER BY target_date"
    ).fetchall()
    # realized coverage of the 80% and 95% ranges over the verified calls that carried them
    ranges = {
        level: (sum(r[k] for r in rows), sum(r[k + 1] or 0 for r in rows))
        for level, k in (("80", 5), ("95", 7))
    }
    per_day = [r[:5] for r in rows]
    tot_n = sum(r[1] for r in per_day)
    tot_hits = sum(r[2] or 0 for r in per_day)
    tot_ups = sum(r[3] or 0 for r in per_day)
    tot_majs = sum(r[4] or 0 for r in per_day)
    col = 3 if stronger_baseline(tot_ups, tot_majs) == "always_up" else 4
    per_day = per_day[-(points + window - 1) :]
    dates, hit, base = [], [], []
    full = len(per_day) >= window  # with enough history, plot only points over a full window
    for i, (day, *_rest) in enumerate(per_day):
        if full and i < window - 1:
            continue
        win = per_day[max(0, i - window + 1) : i + 1]
        wn = sum(r[1] for r in win)
        if wn:
            dates.append(day)
            hit.append(sum(r[2] or 0 for r in win) / wn)
            base.append(sum(r[col] or 0 for r in win) / wn)
    dates, hit, base = dates[-points:], hit[-points:], base[-points:]
    base_rate, base_name = baseline(tot_n, tot_ups, tot_majs)
    range_dates, cov80, cov95 = _coverage_trend(rows, window, points)
    return {
        "dates": dates,
        "hit": hit,
        "base": base,
        "window": window,
        "n": tot_n,
        "hit_rate": tot_hits / tot_n if tot_n else None,
        "base_rate": base_rate,
        "base_name": base_name,
        "ranges": ranges,
        "range_dates": range_dates,
        "cov80": cov80,
        "cov95": cov95,
    }


# a verified_by_target row (schema m015): target_date, n, hits, ups, majs, n80, in80, n95, in95
TargetSums = tuple[str, int, int, int, int, int, int, int, int]


def _coverage_trend(
    rows: list[TargetSums], window: int, points: int
) -> tuple[list[str], list[float], list[float]]:
    """Rolling realized coverage of the 80% and 95% ranges over the last `window` target
    sessions (rows: accuracy_trend's per-session counts). Every verified call carries a
    range, FLAT ones too, so this is what the chart shows when no call was directional."""
    rows = rows[-(points + window - 1) :]
    full = len(rows) >= window
    dates: list[str] = []
    cov80: list[float] = []
    cov95: list[float] = []
    for i, row in enumerate(rows):
        if full and i < window - 1:
            continue
        win = rows[max(0, i - window + 1) : i + 1]
        n80 = sum(r[5] for r in win)
        n95 = sum(r[7] for r in win)
        if n80 and n95:
            dates.append(row[0])
            cov80.append(sum(r[6] or 0 for r in win) / n80)
            cov95.append(sum(r[8] or 0 for r in win) / n95)
    return dates[-points:], cov80[-points:], cov95[-points:]
