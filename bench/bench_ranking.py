"""Issue 22: the ranking model against one-line factors on 20 real stocks.

Data: skfolio's 20 S&P 500 stocks (adjusted closes, 1990-2022) and the S&P 500 index, read
from its wheel as bench_edge.py reads them (no network once cached).

Protocol: yearly walk-forward. The scores for the sessions of year Y come from a model
(`models.ranking`, the product's own code) refit at Y's first session on every row whose
label had matured by then (early stopping on the most recent 126 labelled sessions, purge
gap 5 sessions). VALIDATION years 2011-2014, TEST years 2015-2022. The model's settings are
the module's defaults, fixed before this benchmark first ran; nothing is chosen on any
year here (the validation years are printed apart so that a later choice has somewhere
honest to be made). Next to the model, on the same (date, symbol) rows, the bare factors:
reversal (minus the last h sessions' return for h = 1, 3, 5) and 12-1 momentum. Scored with
`models.scorecard.ranking_skill` (what `report` and `backtest` print): the mean daily
Spearman IC, its Newey-West t, the top-minus-bottom quintile spread (with 20 symbols: the
best 4 minus the worst 4), per year and pooled.

What 20 symbols can show: each date's IC is a correlation over 20 pairs (standard error
about 0.23), so ~2,000 test dates give an IC standard error near 0.005 before overlap and
autocorrelation (more after the HAC correction): an IC of +0.02 (the literature's one-week
reversal on 500 stocks) would read t ~ 2 here at best, and a t of 3 is out of reach for
anything that small. The panel can tell a large edge (|IC| >= 0.03 sustained) from none,
and show whether the model at least matches a one-line factor; it cannot prove a small one.

Run: python bench/bench_ranking.py   (about 2 minutes on a loaded 2-core machine)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edge import load_panel  # noqa: E402

from models import ranking, scorecard  # noqa: E402

HORIZONS = (1, 3, 5)
VAL, TEST, END = 2011, 2015, 2022


def model_scores(closes: pd.DataFrame, index: pd.Series, h: int) -> pd.DataFrame:
    dates = pd.DatetimeIndex(closes.index)
    years = [dates[dates.year == y][0] for y in range(VAL, END + 1)]
    return ranking.walk_forward(closes, index, (h,), start=years[0], refit_at=years)


def factor_scores(closes: pd.DataFrame, h: int) -> pd.DataFrame:
    """(date, symbol) -> reversal (-h-session return) and 12-1 momentum, known at t."""
    logc = cast(pd.DataFrame, np.log(closes))
    far, near = ranking.MOMENTUM
    parts = {
        "reversal": -(logc - logc.shift(h)),
        "momentum": logc.shift(near) - logc.shift(far),
    }
    long = pd.concat({k: v.stack(future_stack=True) for k, v in parts.items()}, axis=1)
    long.index.names = ["date", "symbol"]
    return long.reset_index()


def fmt(s: scorecard.MeanT | None) -> str:
    if not s or s.get("mean") is None:
        return f"{'-':>22}"
    t = "-" if s["t"] is None else f"{s['t']:+.2f}"
    spread = s["spread"]
    sp = "-" if spread is None else f"{100 * spread:+.3f}%"
    return f"{s['mean']:+.4f} t{t:>6} {sp:>9}"


def year_of(s: scorecard.RankingSkill | None, year: str) -> scorecard.MeanT | None:
    return (s.get("years") or {}).get(year) if s else None


def main() -> None:
    start = time.perf_counter()
    closes, index = load_panel()
    print(
        f"panel: {closes.shape[1]} stocks {closes.index[0].date()}..{closes.index[-1].date()}; "
        f"yearly refits; validation {VAL}-{TEST - 1}, test {TEST}-{END}; "
        "columns: mean daily IC, Newey-West t, top-minus-bottom quintile spread (log, h sessions)"
    )
    scored = Parallel(n_jobs=2)(delayed(model_scores)(closes, index, h) for h in HORIZONS)
    for h, scores in zip(HORIZONS, scored, strict=True):
        rows = scores.merge(factor_scores(closes, h), on=["date", "symbol"], how="left")
        rows = rows[rows["realized"].notna()]
        skills = {}
        for name, col in (("model", "score"), ("reversal", "reversal"), ("momentum", "momentum")):
            frame = rows.rename(columns={col: "expected"})[["date", "expected", "realized"]]
            val = frame[frame["date"].dt.year < TEST]
            test = frame[frame["date"].dt.year >= TEST]
            skills[name] = {
                "val": scorecard.ranking_skill(val, h),
                "test": scorecard.ranking_skill(test, h),
            }
        print(f"\nh = {h} session(s)     {'model':<24}{'reversal':<24}{'12-1 momentum':<24}")
        for part in ("val", "test"):
            own = skills["model"][part]
            years = own["years"] if own else {}
            for y in years:
                cells = [fmt(year_of(skills[k][part], y)) for k in skills]
                print(f"  {y} ({part:<4})      " + "  ".join(cells))
            label = "validation" if part == "val" else "TEST pooled"
            print(f"  {label:<17}" + "  ".join(fmt(skills[k][part]) for k in skills))
        t = skills["model"]["test"]
        verdict = "an edge" if scorecard.ranking_edge(t) else "no edge (t < 2 or spread <= 0)"
        rev = skills["reversal"]["test"]
        ours, theirs = (t["mean"] if t else None), (rev["mean"] if rev else None)
        beats = ours is not None and theirs is not None and ours > theirs
        print(
            f"  -> model on test: {verdict}; "
            f"{'beats' if beats else 'does not beat'} the bare reversal factor's IC; "
            f"n = {t['n_days'] if t else 0} test dates"
        )
    print(f"\ntook {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
