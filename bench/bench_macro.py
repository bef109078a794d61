"""Does a macro tower help the direction and ranking models? With and without, walk-forward.

Macro data (offline, what installed packages ship, FINAL vintages: today's revised numbers,
not the first releases, so a slight advantage to "with" that a live home would not have):
core CPI (`arch.data.core_cpi`, 1957-01 … 2018-11) and statsmodels' quarterly macrodata
(1959Q1 … 2009Q3: real GDP growth, unemployment, 3-month bill). Each value enters a row only
from its release date by the series' stated lag (`models.macro.known_from`); columns per
series: the latest known value (core CPI as its 12-month % change) and its change against
3 months before (`models.macro.tower`). Two towers: "cpi" (core CPI only: known through
2018) and "all" (plus the three statsmodels series: live through 2009 only, NaN after,
which XGBoost treats as missing).

Direction: the product's XGBoost forecaster (`models.forecasters.xgb`, default settings) on
the product's features (`models.dataset.panel`) of the S&P 500 and NASDAQ Composite daily
OHLCV (`arch.data.sp500` / `nasdaq`, 1999-2018), refit at each year's first session on the
rows whose labels had matured (`dataset.walk_split`), the macro columns joined by date.
Scored per year: directional accuracy of the sign of the expected h-session return on the
UP/DOWN outcomes, next to always-up. VALIDATION years 2004-2009 (both towers live), TEST
years 2010-2018.

Ranking: the product's ranking model (`models.ranking.walk_forward`, its settings) on
skfolio's 20 S&P 500 stocks (as bench_ranking.py), the macro columns added to its inputs
(the same value for every stock on a date: only interactions can use them). Yearly refits;
VALIDATION 2011-2014, TEST 2015-2018 (core CPI ends there). Scored with the daily rank IC.

A tower is kept only where it beats "none" on the validation years (for the direction
model: on its accuracy averaged over the horizons, since one feature set serves them all);
test is reported for every variant whatever it says.

Run: .venv/bin/python bench/bench_macro.py [--ranking-only]   (about 5 minutes on 2 loaded
cores: the direction part 3, the ranking part 2)
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from assistant.ingest.macro import OfflineMacro  # noqa: E402
from models import dataset, macro, ranking, scorecard  # noqa: E402
from models.forecasters.xgb import XGBoostForecaster  # noqa: E402

HORIZONS = (1, 5)
DIR_VAL, DIR_TEST = range(2004, 2010), range(2010, 2019)
RANK_VAL, RANK_TEST = range(2011, 2015), range(2015, 2019)
RANK_H = 5
TOWERS = {"none": (), "cpi": ("CPILFESL",), "all": OfflineMacro.serves}


def macro_frame(names: tuple[str, ...], sessions: pd.DatetimeIndex) -> pd.DataFrame:
    src = OfflineMacro()
    rows = {n: macro.first_release_rows(n, src.history(n)) for n in names}
    return macro.tower(rows, sessions)


def index_bars() -> dict[str, pd.DataFrame]:
    out = {}
    for name, mod in (("^GSPC", "arch.data.sp500"), ("^IXIC", "arch.data.nasdaq")):
        frame = importlib.import_module(mod).load()
        frame.index = pd.DatetimeIndex(frame.index).normalize()
        frame = frame.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
        out[name] = frame.astype(float)
    return out


def with_macro(data: dataset.Dataset, tower: pd.DataFrame) -> dataset.Dataset:
    if tower.empty or not len(tower.columns):
        return data
    dates = pd.DatetimeIndex(data.X.index.get_level_values("date"))
    extra = tower.reindex(dates).to_numpy(float)
    X = data.X.copy()
    for j, col in enumerate(tower.columns):
        X[col] = extra[:, j]
    return dataset.Dataset(X, data.Y, data.rows, data.horizons)


def direction(data: dataset.Dataset, years: range) -> pd.DataFrame:
    """Per test row: year, horizon, predicted sign, realized sign (UP/DOWN rows only)."""
    dates = pd.DatetimeIndex(data.X.index.get_level_values("date"))
    out = []
    for year in years:
        first = dates[dates.year == year].min()
        walk = dataset.walk_split(data, first - pd.Timedelta(days=1))
        model = XGBoostForecaster(HORIZONS).fit(walk.train, walk.val)
        rows = data.rows & np.asarray(dates.year == year)
        fc = model.predict(data.X[rows])
        for i, h in enumerate(HORIZONS):
            real = data.Y[f"ret_h{h}"].to_numpy(float)[rows]
            out.append(
                pd.DataFrame(
                    {
                        "year": year,
                        "h": h,
                        "pred": np.sign(fc.expected_return[:, i]),
                        "real": np.sign(real),
                    }
                )
            )
    frame = pd.concat(out, ignore_index=True)
    return frame[frame["real"] != 0]


def ranking_ic(closes: pd.DataFrame, index: pd.Series, tower: pd.DataFrame) -> pd.DataFrame:
    """The ranking model's walk-forward scores with the tower's columns as extra inputs
    (patched in for this run only: the product's model takes its FEATURES list)."""
    base_features, base_fn = ranking.FEATURES, ranking.features
    cols = tuple(tower.columns)

    def features(c: pd.DataFrame, ix: pd.Series | None = None) -> pd.DataFrame:
        ranking.FEATURES = base_features
        try:
            X = base_fn(c, ix)
        finally:
            ranking.FEATURES = (*base_features, *cols)
        dates = pd.DatetimeIndex(X.index.get_level_values("date"))
        extra = tower.reindex(dates).to_numpy(float)
        for j, col in enumerate(cols):
            X[col] = extra[:, j]
        return X

    ranking.FEATURES, ranking.features = (*base_features, *cols), features  # type: ignore[assignment]
    try:
        dates = pd.DatetimeIndex(closes.index)
        years = [dates[dates.year == y][0] for y in (*RANK_VAL, *RANK_TEST)]
        return ranking.walk_forward(
            closes, index, (RANK_H,), start=years[0], end=f"{RANK_TEST[-1]}-12-31", refit_at=years
        )
    finally:
        ranking.FEATURES, ranking.features = base_features, base_fn


def main() -> None:
    t0 = time.perf_counter()
    if "--ranking-only" not in sys.argv:
        direction_part()
    ranking_part()
    print(f"\n{time.perf_counter() - t0:.0f} s")


def direction_part() -> None:
    bars = index_bars()
    base = dataset.panel(bars, HORIZONS)
    sessions = pd.DatetimeIndex(sorted(set(base.X.index.get_level_values("date"))))
    print(
        "DIRECTION: XGBoost on ^GSPC + ^IXIC, yearly refits; accuracy of the sign on UP/DOWN rows"
    )
    acc: dict[tuple[str, int, str], float] = {}
    per_year: dict[str, pd.DataFrame] = {}
    for name, names in TOWERS.items():
        data = with_macro(base, macro_frame(names, sessions))
        rows = direction(data, range(DIR_VAL.start, DIR_TEST.stop))
        per_year[name] = rows
        for h in HORIZONS:
            r = rows[rows["h"] == h]
            for part, years in (("val", DIR_VAL), ("test", DIR_TEST)):
                sel = r[r["year"].isin(years)]
                acc[(name, h, part)] = float((sel["pred"] == sel["real"]).mean())
    up = per_year["none"]
    for h in HORIZONS:
        print(f"\nh = {h}: year, n, always-up, then accuracy per tower ({', '.join(TOWERS)})")
        for y in range(DIR_VAL.start, DIR_TEST.stop):
            base_rows = up[(up["h"] == h) & (up["year"] == y)]
            cells = []
            for name in TOWERS:
                r = per_year[name]
                sel = r[(r["h"] == h) & (r["year"] == y)]
                cells.append(f"{100 * (sel['pred'] == sel['real']).mean():5.1f}%")
            tag = "val " if y in DIR_VAL else "test"
            print(
                f"  {y} ({tag}) n={len(base_rows):4d}  up {100 * (base_rows['real'] > 0).mean():5.1f}%  "
                + "  ".join(cells)
            )
        for part, years in (("val", DIR_VAL), ("test", DIR_TEST)):
            sel = up[(up["h"] == h) & up["year"].isin(years)]
            se = 100 * np.sqrt(0.25 / len(sel))  # one binomial standard error near 50%
            print(
                f"  {part:<4} pooled (n={len(sel)}, s.e. {se:.1f} pt): always-up "
                f"{100 * (sel['real'] > 0).mean():.2f}%  "
                + "  ".join(f"{n} {100 * acc[(n, h, part)]:.2f}%" for n in TOWERS)
            )
        best = max(TOWERS, key=lambda n: acc[(n, h, "val")])
        print(f"  -> best at h = {h} on validation: {best}")
    # one forecaster serves every horizon from one feature set: the tower is kept or not
    # for all of them, on the validation accuracy averaged over the horizons
    mean = {n: float(np.mean([acc[(n, h, "val")] for h in HORIZONS])) for n in TOWERS}
    best = max(TOWERS, key=lambda n: mean[n])
    print(
        "\n  validation, mean over horizons: "
        + "  ".join(f"{n} {100 * v:.2f}%" for n, v in mean.items())
        + f"\n  -> best on validation for the direction model: {best} "
        + f"({100 * (mean[best] - mean['none']):+.2f} pt over none)"
    )


def ranking_part() -> None:
    print(
        f"\nRANKING: the ranking model on 20 stocks, h = {RANK_H}; mean daily rank IC (Newey-West t)"
    )
    from bench_edge import load_panel

    closes, index = load_panel()
    csess = pd.DatetimeIndex(closes.index)
    ic: dict[tuple[str, str], scorecard.RankingSkill | None] = {}
    yearly: dict[str, dict] = {}
    for name, names in (("none", ()), ("cpi", ("CPILFESL",))):
        scores = ranking_ic(closes, index, macro_frame(names, csess))
        frame = scores[scores["realized"].notna()].rename(columns={"score": "expected"})
        frame = frame[["date", "expected", "realized"]]
        for part, years in (("val", RANK_VAL), ("test", RANK_TEST)):
            ic[(name, part)] = scorecard.ranking_skill(
                frame[frame["date"].dt.year.isin(years)], RANK_H
            )
        skill = scorecard.ranking_skill(frame, RANK_H)
        yearly[name] = dict(skill.get("years", {})) if skill else {}
    for y in (*RANK_VAL, *RANK_TEST):
        tag = "val " if y in RANK_VAL else "test"
        cells = []
        for name in yearly:
            s = yearly[name].get(y) or yearly[name].get(str(y))
            cells.append(f"{name} {s['mean']:+.4f}" if s else f"{name} -")
        print(f"  {y} ({tag})  " + "  ".join(cells))
    for part in ("val", "test"):
        cells = []
        for name in yearly:
            s = ic[(name, part)]
            cells.append(
                f"{name} {s['mean']:+.4f} (t {s['t']:+.2f})"
                if s and s.get("t") is not None
                else f"{name} -"
            )
        print(f"  {part:<4} pooled: " + "  ".join(cells))
    best = max(yearly, key=lambda n: _mean(ic[(n, "val")]))
    print(f"  -> chosen on validation: {best}")


def _mean(skill: scorecard.RankingSkill | None) -> float:
    return (skill["mean"] if skill else None) or -1.0


if __name__ == "__main__":
    main()
