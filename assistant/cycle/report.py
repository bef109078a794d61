"""The accuracy report: verified calls only, always next to the baselines, n and a p-value.

Per symbol and horizon (and within it per regime at prediction time), scored with the
outcome rules of `models.outcomes` and the statistics of `models.metrics` (the same code
the training and backtest reports use): the hit rate of the UP/DOWN calls and how often
a call was made, the baselines on the same calls (always up, the causal majority stored
with each call, the last h-session move), the edge over the stronger baseline with the
paired Newey-West p-value, MAE of the % change next to zero change, Brier score and
Brier skill against the class frequencies verified before each call, the calibration
table (the confidence shown with the call against its realized hit rate) and the trend
(a 4-week rolling hit rate per week next to the stronger baseline on the same calls).
Ranges: realized coverage of the 80% and 95% ranges and their interval (Winkler) score.
Volatility: QLIKE of the variance forecast made with each call against the realized
variance (sum of squared daily log returns over the h sessions), next to the EWMA
(lambda 0.94) and trailing-20 baselines on the same calls. Ranking: with 5 or more symbols,
the information coefficient (per as-of date, the Spearman correlation across symbols of
expected and realized return; averaged, with a Newey-West t-stat), the top-minus-bottom
quintile spread, and both per year; and the same record of the ranking model's stored
ranks (`ranking_record`). Expired calls are counted apart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import sqlite_utils

from models import indicators, intervals, outcomes, volatility
from models import metrics as scores
from models.outcomes import CLASSES
from models.scorecard import (
    FACTOR_LOOKBACK,
    RangeScore,
    RangeScores,
    RankingSkill,
    VolScores,
    ranges,
    ranking,
    vol_scores,
)
from store import bars as bar_store
from store import hourly_calls, market
from store import predictions as ledger
from store import rankings as rank_store

TREND_WEEKS = 26
ROLLING_WEEKS = 4


class CalibrationRow(TypedDict):
    lo: float
    hi: float
    n: int
    stated: float
    realized: float


class TrendWeek(TypedDict):
    week: str
    n: int
    hit_rate: float
    baseline: float


class RankingRecord(TypedDict):
    """One horizon of `ranking_record`: the ranks whose h sessions have closed."""

    horizon: int
    n: int  # ranks with a realized h-session return
    record: RankingSkill | None  # None: too few ranked dates to judge
    edge: bool


DIRECTIONAL = "directional:"  # the prefix of the columns of `models.metrics.directional_rows`
TEXT_COLUMNS = (
    "symbol",
    "as_of",
    "model_version",
    "target_date",
    "direction",
    "regime",
    "signals",
    "outcome",
)


class Calls:
    """Scored calls as numpy columns. The report cuts them into 1,500 groups for 500 symbols;
    a pandas frame per group costs a hundred times what these arrays do."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns
        self._unique: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per column, np.unique

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.columns[name] = values
        self._unique.pop(name, None)

    def __len__(self) -> int:
        return len(self.columns["id"])

    def take(self, sel: np.ndarray) -> Calls:
        return Calls({k: v[sel] for k, v in self.columns.items()})

    def groups(self, *keys: str) -> list[tuple[tuple[str | float, ...], Calls]]:
        """(key values, calls) per distinct combination of `keys`, in sorted key order; each
        group keeps the calls' order."""
        if not len(self):
            return []
        combined = self._combined(keys)
        order = np.argsort(combined, kind="stable")
        bounds = np.flatnonzero(np.diff(combined[order])) + 1
        out = []
        for part in np.split(order, bounds):
            first = part[0]
            out.append((tuple(self[k][first] for k in keys), self.take(part)))
        return out

    def group_codes(self, *keys: str) -> tuple[np.ndarray, list[tuple[str | float, ...]]]:
        """(each call's group number, the groups' key values), groups numbered in `groups`
        order."""
        _, first, code = np.unique(self._combined(keys), return_index=True, return_inverse=True)
        return code.reshape(-1), [tuple(self[k][i] for k in keys) for i in first]

    def _combined(self, keys: tuple[str, ...]) -> np.ndarray:
        for k in keys:  # sorting 9,500 names once, not once per grouping
            if k not in self._unique:
                self._unique[k] = np.unique(self[k], return_inverse=True)
        codes = [self._unique[k] for k in keys]
        combined = np.zeros(len(self), dtype=np.int64)
        for values, code in codes:
            combined = combined * len(values) + code.reshape(-1)
        return combined


def _calls_of(columns: Mapping[str, Sequence[object]]) -> Calls:
    """The ledger's columns as numpy arrays: text as objects, numbers as floats (NULL: NaN)."""
    cols: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        cols[name] = np.array(values, dtype=object if name in TEXT_COLUMNS else float)
    cols["position"] = np.arange(len(cols["id"]))  # where each call sits in the whole set
    return Calls(cols)


def _read_calls(
    db: sqlite_utils.Database, symbols: list[str] | None, until: str | None
) -> Calls | None:
    """The verified calls as columns (None: there are none), with the parts of their signals
    JSON the report scores: the stored baseline calls as signs (`last_move`, `majority`:
    an older call without one counts as up) and the variance forecasts (`vol_var`,
    `vol_ewma`, `vol_trailing`). SQLite reads those parts in the ledger's query; where its
    reading could differ from Python's json.loads (see `_sqlite_read_them`), every call's
    signals are parsed by json.loads as before (tests/test_report_speed.py)."""
    cols: dict[str, tuple[object, ...]] | None
    try:
        cols = ledger.scored_columns(db, symbols, until)
    except sqlite3.OperationalError:  # a signals text SQLite's JSON cannot read
        cols = None
    if cols is not None and not cols:
        return None
    if cols is not None and _sqlite_read_them(cols):
        names = [c.strip() for c in ledger.SCORED_COLUMNS.split(",")]
        calls = _calls_of({name: cols[name] for name in names})
        # one json.loads of them all (the same parser on the same digits): not 9,500 calls
        parts = json.loads(
            f"[{','.join(str(p or '[null,null,null]') for p in cols['signal_parts'])}]"
        )
        last: Sequence[object] = [p[0] for p in parts]
        majority = [p[1] if has else 1 for p, has in zip(parts, cols["has_majority"], strict=True)]
        vol = [p[2] or {} for p in parts]
    else:
        rows: list[dict[str, object]] = [dict(r) for r in ledger.scored(db, symbols, until)]
        if not rows:
            return None
        calls = _calls_of({name: tuple(r[name] for r in rows) for name in rows[0]})
        info = [json.loads(sig or "{}") for sig in calls["signals"]]
        last = [i.get("last_move") for i in info]
        majority = [i.get("majority", 1) for i in info]
        vol = [i.get("vol") or {} for i in info]
    signs: dict[object, int] = {}  # a handful of distinct stored values
    for name, values in (("last_move", last), ("majority", majority)):
        calls[name] = np.array(
            [signs[v] if v in signs else signs.setdefault(v, _sign(v)) for v in values]  # type: ignore[arg-type]
        )
    for key in ("var", "ewma", "trailing"):
        calls[f"vol_{key}"] = np.array([v.get(key, np.nan) for v in vol], dtype=float)
    return calls


def _sqlite_read_them(cols: Mapping[str, Sequence[object]]) -> bool:
    """Whether SQLite's rendering of every call's signals parts is what json.loads of the
    whole text would give: each signals an object (its text starts with '{'; or NULL), with
    no NaN or Infinity in it (json.dumps writes them; SQLite's JSON does not read them as
    Python does). Its rendering keeps each number's and string's own text. (A signals text
    from `json.dumps` of a dict has no duplicate keys, where the two readers would differ.)"""
    return all(o is None or o for o in cols["signals_object"]) and not any(
        cols["signals_nonfinite"]
    )


def build(
    db: sqlite_utils.Database, symbols: list[str] | None = None, until: str | None = None
) -> dict[str, Any]:
    """The report; with `until`, its groups score only the calls verified on or before
    that session (what a decision made then could know)."""
    calls = _read_calls(db, symbols, until)
    counts = ledger.counts(db, symbols)
    # what the latest calls saw besides the bars (VIX, the next scheduled event, news)
    context = market.context_of(db, symbols)
    out: dict[str, Any] = {"counts": counts, "context": context, "groups": []}
    hourly = hourly_record(db, symbols)
    if any(hourly["counts"].values()):  # a home without hour-ahead calls reports as before
        out["hourly"] = hourly
    if calls is None:
        return out
    calls["realized"] = outcomes.realized_return(calls["base_price"], calls["actual_price"])
    calls["actual_pct"] = 100.0 * np.expm1(calls["realized"])
    calls["realized_var"] = _realized_var(db, calls)
    # the per-call values the groups score, computed once for all calls (each is the call's own)
    per_call = scores.directional_rows(
        calls["direction"],
        calls["realized"],
        majority=calls["majority"],
        last_move=calls["last_move"],
    )
    for key, values in per_call.items():
        calls[f"{DIRECTIONAL}{key}"] = values
    calls["class_code"] = np.array([CLASSES.index(c) for c in calls["outcome"]], dtype=np.int64)
    probs = np.column_stack([calls["p_down"], calls["p_flat"], calls["p_up"]])
    calls["brier_row"] = scores.brier_rows(probs, calls["class_code"])
    # the dates as fixed-width text once (the groups sort and search them)
    calls["as_of_text"] = calls["as_of"].astype(str)
    calls["target_text"] = calls["target_date"].astype(str)
    out["horizons"] = [
        {"horizon": int(h), **ranges(g), "volatility": vol_scores(g), "ranking": ranking(g, int(h))}
        for (h,), g in calls.groups("horizon")
    ]
    calls["regime_or_unknown"] = np.array(
        ["unknown" if r is None else str(r) for r in calls["regime"]], dtype=object
    )
    calls["as_of_day"] = calls["as_of_text"].astype("datetime64[D]").astype(np.int64)
    # every group's scores at once (3,303 groups for 500 symbols), not group by group
    by_group = metrics_of_groups(calls, "symbol", "horizon")
    by_regime: dict[tuple[str | float, ...], dict[str, dict[str, Any]]] = {}
    for (sym, h, r), m in metrics_of_groups(calls, "symbol", "horizon", "regime_or_unknown"):
        by_regime.setdefault((sym, h), {})[str(r)] = m
    group_of, _ = calls.group_codes("symbol", "horizon")
    size = len(by_group)
    vol_of = vol_scores_of_groups(calls, group_of, size)
    ranges_of = ranges_of_groups(calls, group_of, size)
    versions_of = _versions_of_groups(calls, group_of, size)
    calibration_of = calibration_of_groups(calls, group_of, size)
    trend_of = trends_of_groups(calls, group_of, [m["stronger_baseline"] for _, m in by_group])
    for j, ((sym, h), m) in enumerate(by_group):
        group = {"symbol": sym, "horizon": int(h), **m, **ranges_of[j]}
        group["volatility"] = vol_of[j]
        group["model_versions"] = versions_of[j]
        group["by_regime"] = by_regime[(sym, h)]
        group["calibration"] = calibration_of[j]
        group["trend"] = trend_of[j]
        out["groups"].append(group)
    # every p-value the report shows is one of a family: symbols x horizons x regimes
    family = [x for grp in out["groups"] for x in (grp, *grp["by_regime"].values())]
    scores.judge(family)
    for row in family:
        row["verdict_text"] = verdict(row)
    out["ranking"] = ranking_record(db, symbols)
    return out


def ranking_record(
    db: sqlite_utils.Database, symbols: list[str] | None = None
) -> list[RankingRecord]:
    """Per horizon, the record of the ranking model's stored ranks whose h sessions
    have closed: the daily Spearman IC of the expected relative move against the realized
    h-session return, its Newey-West t, the top-minus-bottom quintile spread, per year
    (`models.scorecard.ranking_skill`; a date counts with 5 or more ranked symbols). When
    a session was ranked again (a newer ranking model), its newest ranks count.

    Only the closes it reads are fetched: each ranked symbol's own sessions from the first
    ranked date on (the realized returns), and the factors' cells of the dates x symbols
    closes (`ranked_factor_scores`), not 252 sessions of every symbol."""
    from models.scorecard import judged, ranking_skill, versus_factor_scores

    out: list[RankingRecord] = []
    horizons = [
        int(h) for (h,) in db.execute("SELECT DISTINCT horizon FROM rankings ORDER BY horizon")
    ]
    start = _closes_start(db, symbols, horizons)
    frames = {}
    for h in horizons:
        frame = pd.DataFrame(rank_store.history_columns(db, h))
        if symbols:
            frame = frame[frame["symbol"].isin(symbols)]
        frames[h] = frame.drop_duplicates(["symbol", "as_of"], keep="last")
    ranked = [f for f in frames.values() if len(f)]
    names = sorted(set().union(*(f["symbol"].tolist() for f in ranked))) if ranked else []
    first = min(str(f["as_of"].min()) for f in ranked) if ranked else None
    # each symbol's own final sessions from the first ranked date on: the realized returns
    own = bar_store.close_rows(db, names, start=first, final_only=True)
    stops = indicators.run_stops(own.starts)
    scored = []
    for h, frame in frames.items():
        as_of = pd.to_datetime(frame["as_of"].to_numpy())
        days = _days(as_of.to_numpy())
        sym = frame["symbol"].to_numpy(object)
        pos = row_of(own.symbol, own.day, sym, days)
        target = pos + h
        ok = pos >= 0
        ok[ok] = target[ok] < stops[pos[ok]]  # h sessions of its own later
        realized = np.full(len(frame), np.nan)
        realized[ok] = np.log(own.close[target[ok]] / own.close[pos[ok]])
        calls = pd.DataFrame(
            {
                "date": as_of.to_numpy(),
                "symbol": sym,
                "expected": frame["relative"].to_numpy(float),
                "realized": realized,
            }
        )
        scored.append((h, calls, ranking_skill(calls, h), sym, days))
    # the factors' cells of every horizon with a record: each on its dates x symbols frame's
    # dates (`calendars`), the cells of all of them in one query
    calendars: dict[tuple[str, ...], np.ndarray] = {}
    lagged: dict[int, tuple[np.ndarray, dict[int, np.ndarray]]] = {}
    for h, _, skill, sym, days in scored:
        if skill:
            mine = tuple(sorted(set(sym.tolist())))
            if mine not in calendars:
                calendars[mine] = bar_store.final_days(db, list(mine), start)
            lagged[h] = (calendars[mine], factor_rows(calendars[mine], days, h))
    on = sorted(
        {
            str(d)
            for cal, rows in lagged.values()
            for d in cal[np.unique(np.concatenate([r[r >= 0] for r in rows.values()]))]
        }
    )
    wanted = sorted({str(s) for h, _, _, sym, _ in scored if h in lagged for s in sym.tolist()})
    cells = bar_store.close_rows(db, wanted, final_only=True, days=on)
    for h, calls, skill, sym, _ in scored:
        versus = None
        if skill:
            calendar, rows = lagged[h]
            versus = versus_factor_scores(
                calls, ranked_factor_scores(cells, calendar, rows, sym, h), h
            )
        record = judged(skill, versus)
        out.append(
            {
                "horizon": h,
                "n": int(np.isfinite(calls["realized"].to_numpy()).sum()),
                "record": record,
                "edge": bool(record and record["edge"]),
            }
        )
    return out


def factor_rows(calendar: np.ndarray, days: np.ndarray, h: int) -> dict[int, np.ndarray]:
    """Per k in `factor_lags(h)`: each ranked day's row in the dates x symbols frame over
    `calendar` less k (-1: not a day of it; < 0: before its first row)."""
    from models.scorecard import factor_lags

    at = np.searchsorted(calendar, days)
    found = at < len(calendar)
    found[found] = calendar[at[found]] == days[found]
    return {k: np.where(found, at - k, -1) for k in factor_lags(h)}


def ranked_factor_scores(
    cells: bar_store.CloseRows,
    calendar: np.ndarray,
    rows: dict[int, np.ndarray],
    sym: np.ndarray,
    h: int,
) -> dict[str, np.ndarray]:
    """Per ranked (symbol, day): the one-line factors' scores (`scorecard.factor_values`) of
    the dates x symbols frame of the ranked symbols' final closes over `calendar` (its
    dates), read cell by cell from `cells` (those closes on the sessions needed): the cells
    k rows back (`rows[k]`, `factor_rows`) of each ranked day's row, NaN where the frame has
    none (before its first row, a symbol without a bar that day, a day not in it). The same
    cells and the same arithmetic as on the whole frame (tests/test_report_speed.py)."""
    from models.scorecard import factor_scores

    logc = np.log(cells.close)
    finder = RowFinder(cells.symbol, cells.day)
    codes = finder.codes(sym)
    back = {}
    for k, r in rows.items():
        day = np.full(len(sym), np.datetime64("NaT"), dtype="datetime64[D]")
        day[r >= 0] = calendar[r[r >= 0]]
        cell = finder.rows(codes, day)
        back[k] = np.full(len(sym), np.nan)
        back[k][cell >= 0] = logc[cell[cell >= 0]]
    return factor_scores(back, h)


def _days(stamps: np.ndarray) -> np.ndarray:
    """datetime64[ns] stamps as days; a stamp that is not a midnight (no session's) as NaT."""
    days = stamps.astype("datetime64[D]")
    return np.where(days.astype(stamps.dtype) == stamps, days, np.datetime64("NaT"))


def _closes_start(
    db: sqlite_utils.Database, symbols: list[str] | None, horizons: list[int]
) -> str | None:
    """The first session whose closes the ranking record can need (None: all of them).

    Per horizon, its factors look back FACTOR_LOOKBACK (or h) sessions of the dates x
    symbols frame of that horizon's ranked symbols, from their earliest ranked date on; its
    realized returns look h sessions forward. Any one of those symbols' date that many of
    its own sessions before the earliest ranked date is no later than the frame's (the
    frame has every date any of them has), so the closes from the earliest such date give
    every value the whole history gives."""
    marks = ",".join("?" * len(symbols or []))
    among = f" AND symbol IN ({marks})" if symbols else ""
    (first,) = db.execute(
        f"SELECT MIN(as_of) FROM rankings WHERE 1{among}", symbols or []
    ).fetchone()
    starts = []
    for h in horizons:
        (name,) = db.execute(
            f"SELECT MIN(symbol) FROM rankings WHERE horizon = ?{among}", [h, *(symbols or [])]
        ).fetchone()
        if first is None or name is None:
            continue
        start = bar_store.final_date_before(db, name, first, max(FACTOR_LOOKBACK, h))
        if start is None:  # fewer sessions stored than the factors look back: all of them
            return None
        starts.append(start)
    return min(starts) if starts else None


def _realized_var(db: sqlite_utils.Database, calls: Calls) -> np.ndarray:
    """Per call: the sum of squared daily log returns over its h sessions (NaN if unknown).

    All symbols at once: their closes as columns (no frame per symbol) and the variance of
    each from its own series (`volatility.future_realized_vars_runs`; the same values as
    `future_realized_vars` of each symbol's closes, tests/test_report_speed.py)."""
    out = np.full(len(calls), np.nan)
    first = str(min(calls["as_of"]))  # no call needs a bar before its own as_of
    bars = bar_store.close_rows(db, sorted(set(calls["symbol"].tolist())), start=first)
    if not len(bars.close):
        return out
    horizons = sorted({int(h) for h in calls["horizon"]})
    rv = volatility.future_realized_vars_runs(bars.close, bars.starts, horizons)
    days = np.array(calls["as_of"].tolist(), dtype="datetime64[D]")
    row = row_of(bars.symbol, bars.day, calls["symbol"], days)
    for h, values in rv.items():
        at = np.flatnonzero((calls["horizon"] == h) & (row >= 0))
        out[at] = values[row[at]]
    return out


class RowFinder:
    """Finds rows of (symbol, day) columns (distinct pairs; days as datetime64[D]) by a sorted
    key, the symbols numbered by a dict (sorting an object array of names costs more)."""

    def __init__(self, symbols: np.ndarray, days: np.ndarray) -> None:
        edge = np.r_[True, symbols[1:] != symbols[:-1]] if len(symbols) else np.zeros(0, bool)
        runs = symbols[edge].tolist()
        self.names: dict[str, int] = {name: i for i, name in enumerate(runs)}
        if len(self.names) == len(runs):  # each symbol's rows one run (as sorted by symbol)
            code = np.cumsum(edge, dtype=np.int64) - 1
        else:
            self.names = {}
            code = np.fromiter(
                (self.names.setdefault(s, len(self.names)) for s in symbols.tolist()),
                dtype=np.int64,
                count=len(symbols),
            )
        keys = code * self.SPAN + days.astype(np.int64)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]

    SPAN = np.int64(1) << 32  # a day as int64 is far inside +-2**31

    def codes(self, wanted: np.ndarray) -> np.ndarray:
        """Each of `wanted`'s symbol number, -1 for a symbol not among the rows."""
        known = pd.Index(list(self.names), dtype=object)
        return np.asarray(known.get_indexer(pd.Index(wanted, dtype=object)), dtype=np.int64)

    def rows(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Per (symbol number, day), its row; -1 where there is none (or the day is NaT)."""
        out = np.full(len(codes), -1, dtype=np.int64)
        known = np.flatnonzero((codes >= 0) & ~np.isnat(days))
        if not len(self.keys) or not len(known):
            return out
        sought = codes[known] * self.SPAN + days[known].astype(np.int64)
        pos = np.minimum(np.searchsorted(self.keys, sought), len(self.keys) - 1)
        hit = self.keys[pos] == sought
        out[known[hit]] = self.order[pos[hit]]
        return out


def row_of(
    symbols: np.ndarray, days: np.ndarray, wanted: np.ndarray, wanted_days: np.ndarray
) -> np.ndarray:
    """Per (wanted, wanted_days) pair, the row of `symbols`/`days` (distinct pairs; days as
    datetime64[D]) with that symbol and day, -1 where there is none (or the day is NaT)."""
    finder = RowFinder(symbols, days)
    return finder.rows(finder.codes(wanted), wanted_days)


def _sign(v: str | float | None) -> int:
    """A stored baseline call (+1/-1/0, or an older 'up'/'down'/'flat' label) as a sign."""
    if isinstance(v, str):
        return {"up": 1, "down": -1}.get(v, 0)
    return 0 if v is None else int(np.sign(float(v)))


def metrics_of_groups(
    calls: Calls, *keys: str
) -> list[tuple[tuple[str | float, ...], dict[str, Any]]]:
    """(key values, scores) of each group of `keys`, in `Calls.groups` order, scored all at
    once: the directional scores (`models.metrics.directional_scores_by`), MAE next to zero
    change, the Brier score and its skill against the group's own climatology (the class
    frequencies of its calls verified before each call's as_of, one pseudo-count each).
    Counts, hit rates and the printed means are those of one group at a time; the paired
    test's Newey-West sums add the same terms in another order (its rounded p and standard
    error within 1e-12 relative; tests/test_report_groups.py keeps the group-by-group code)."""
    group, names = calls.group_codes(*keys)
    size = len(names)
    first = np.unique(group, return_index=True)[1]
    horizons = [int(h) for h in calls["horizon"][first]]
    rows = {k: calls[DIRECTIONAL + k] for k in scores.DIRECTIONAL_ROWS}
    out = scores.directional_scores_by(rows, group, horizons, calls["as_of_day"])
    # the printed means: each the sum of its group's calls in their order by numpy's own
    # (pairwise) sum over a 1-D slice, as `np.mean` of the group's array did, so the very
    # same values (a bincount or reduceat adds them in another order)
    order = np.argsort(group, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(group, minlength=size))].tolist()
    terms = [
        np.ascontiguousarray(values[order])
        for values in (
            calls["brier_row"],
            _climatology_brier(calls, group),
            np.abs(calls["error_pct"]),
            np.abs(calls["actual_pct"]),
        )
    ]
    add = np.add.reduce
    result = []
    for j, m in enumerate(out):
        lo, hi = bounds[j], bounds[j + 1]
        b, r, mae, zero = (float(add(t[lo:hi])) / (hi - lo) for t in terms)
        row: dict[str, Any] = dict(m)
        row.update(
            {
                "hit_rate": row["dir_accuracy"],
                "mae_pct": mae,
                "brier": b,
                "brier_skill": 1 - b / r if r else None,
            }
        )
        row["baselines"]["zero_change"] = {"mae_pct": zero}
        result.append((names[j], row))
    return result


def vol_scores_of_groups(calls: Calls, group: np.ndarray, size: int) -> list[VolScores]:
    """`models.scorecard.vol_scores` of every group at once (group numbers as
    `Calls.group_codes` gives them): each call's QLIKE terms computed once, and each mean
    summed over its calls in their order as `np.mean` of the group's array summed it (the
    same values, tests/test_report_groups.py)."""
    cols = ("realized_var", "vol_var", "vol_ewma", "vol_trailing")
    valid = np.logical_and.reduce([np.isfinite(calls[c]) for c in cols])
    realized = calls["realized_var"]
    loss = {k: volatility.qlike(realized, calls[f"vol_{k}"]) for k in ("var", "ewma", "trailing")}
    years = np.array([d[:4] for d in calls["as_of_text"].tolist()], dtype=object)
    year_names, year_code = np.unique(years, return_inverse=True)
    year_code = year_code.reshape(-1)

    def scored(at: np.ndarray, keys: np.ndarray) -> dict[int, VolScores]:
        out: dict[int, VolScores] = {}
        for key, (n, q) in _means_by(at, keys, loss).items():
            out[key] = {
                "n": n,
                "qlike": q["var"],
                "qlike_ewma": q["ewma"],
                "qlike_trailing": q["trailing"],
                "gain_vs_ewma": 1 - q["var"] / q["ewma"] if q["ewma"] else None,
                "gain_vs_trailing": 1 - q["var"] / q["trailing"] if q["trailing"] else None,
            }
        return out

    at = np.flatnonzero(valid)
    pooled = scored(at, group) if len(at) else {}
    width = len(year_names) + 1
    per_year = scored(at, group * width + year_code) if len(at) else {}
    result: list[VolScores] = [{"n": 0} for _ in range(size)]
    for j, v in pooled.items():
        result[j] = v
        v["by_year"] = {}
    for key, v in per_year.items():
        pooled[key // width]["by_year"][str(year_names[key % width])] = v
    return result


def ranges_of_groups(calls: Calls, group: np.ndarray, size: int) -> list[RangeScores]:
    """`models.scorecard.ranges` of every group at once: each call's interval score
    computed once, each mean summed over its calls in their order as `np.mean` summed it."""
    base = calls["base_price"]
    out: list[dict[str, RangeScore]] = [{} for _ in range(size)]
    for level, lo, hi, col in (
        (0.80, "lower", "upper", "covered80"),
        (0.95, "lower95", "upper95", "covered95"),
    ):
        at = np.flatnonzero(np.isfinite(calls[col]))
        score = intervals.winkler_score(
            calls["actual_price"] / base, calls[lo] / base, calls[hi] / base, level
        )
        means = _means_by(at, group, {"covered": calls[col], "score": score}) if len(at) else {}
        name = f"range{int(level * 100)}"
        for j in range(size):
            n, m = means.get(j, (0, {}))
            out[j][name] = {
                "n": n,
                "coverage": m["covered"] if n else None,
                "interval_score_pct": float(100 * np.float64(m["score"])) if n else None,
            }
    return [RangeScores(range80=o["range80"], range95=o["range95"]) for o in out]


def _means_by(
    at: np.ndarray, keys: np.ndarray, values: Mapping[str, np.ndarray]
) -> dict[int, tuple[int, dict[str, float]]]:
    """{key: (its calls among `at`, {name: the mean of values[name] over them})}, keys in
    sorted order; each mean the sum of the key's calls in their order by numpy's own
    (pairwise) sum over a 1-D slice, divided by their number: what `np.mean` of the
    key's array gives, bit for bit (a bincount or reduceat adds in another order)."""
    order = at[np.argsort(keys[at], kind="stable")]
    k = keys[order]
    edges = np.flatnonzero(np.diff(k)) + 1
    starts, stops = np.r_[0, edges].tolist(), np.r_[edges, len(k)].tolist()
    terms = {name: np.ascontiguousarray(v[order]) for name, v in values.items()}
    add = np.add.reduce
    return {
        int(k[lo]): (hi - lo, {name: float(add(t[lo:hi])) / (hi - lo) for name, t in terms.items()})
        for lo, hi in zip(starts, stops, strict=True)
    }


def _climatology_brier(calls: Calls, group: np.ndarray) -> np.ndarray:
    """Per call: the Brier term of its group's climatology at its as_of (the class
    frequencies of the group's calls whose target date is on or before it, plus one each)."""
    text, code = np.unique(
        np.concatenate([calls["target_text"], calls["as_of_text"]]), return_inverse=True
    )
    code = code.reshape(-1)
    target, as_of = code[: len(calls)], code[len(calls) :]
    span = len(text) + 1
    order = np.lexsort((target, group))
    keys = group[order] * span + target[order]
    cls = calls["class_code"]
    counts = np.vstack([np.zeros(3), np.cumsum(np.eye(3)[cls[order]], axis=0)])
    known = np.searchsorted(keys, group * span + as_of, side="right")
    start = np.searchsorted(keys, group * span, side="left")
    freq = counts[known] - counts[start] + 1.0
    return scores.brier_rows(freq / freq.sum(axis=1, keepdims=True), cls)


def verdict(m: dict[str, Any]) -> str:
    """The row's verdict (`models.metrics.judge`) in words, against the stronger baseline."""
    base = m["stronger_baseline"].replace("_", "-")
    label = f"; {m['label']}" if m.get("label") else ""
    return f"{scores.verdict_text(m, base)}{label}"


def _versions_of_groups(calls: Calls, group: np.ndarray, size: int) -> list[list[str]]:
    """Each group's model versions, sorted."""
    names, code = np.unique(calls["model_version"].astype(str), return_inverse=True)
    width = max(len(names), 1)
    out: list[list[str]] = [[] for _ in range(size)]
    for key in np.unique(group * width + code.reshape(-1)).tolist():
        out[key // width].append(str(names[key % width]))
    return out


def calibration_of_groups(calls: Calls, group: np.ndarray, size: int) -> list[list[CalibrationRow]]:
    """Per group, its directional calls by the confidence shown with them (tenths): stated
    against realized. All groups at once; each mean summed as `np.mean` of the group's
    bucket summed it (the same values as one group at a time, tests/test_report_groups.py)."""
    at = np.flatnonzero(np.isfinite(calls["hit"]))
    bucket = np.zeros(len(calls), dtype=np.int64)
    bucket[at] = outcomes.buckets_of(calls["confidence"][at])
    values = {"stated": calls["confidence"], "realized": calls["hit"]}
    out: list[list[CalibrationRow]] = [[] for _ in range(size)]
    if not len(at):
        return out
    for key, (n, m) in _means_by(at, group * 10 + bucket, values).items():
        b = key % 10
        out[key // 10].append(
            {
                "lo": b / 10,
                "hi": (b + 1) / 10,
                "n": n,
                "stated": m["stated"],
                "realized": m["realized"],
            }
        )
    return out


def trends_of_groups(
    calls: Calls, group: np.ndarray, baselines: list[str]
) -> list[list[TrendWeek]]:
    """Per group and week (by target date, weeks starting Monday; the last TREND_WEEKS):
    the rolling ROLLING_WEEKS-week hit rate of the directional calls and the group's stronger
    baseline's hit rate on the same calls. All groups at once: the weeks' counts of calls,
    hits and baseline hits are sums of 0s and 1s, the same whatever order they are added in."""
    size = len(baselines)
    out: list[list[TrendWeek]] = [[] for _ in range(size)]
    hit = calls["hit"]
    at = np.flatnonzero(np.isfinite(hit))
    if not len(at):
        return out
    up = np.array([b == "always_up" for b in baselines], dtype=bool)
    base = np.where(up[group], calls["up_hit"], calls["majority_hit"])
    day = calls["target_text"][at].astype("datetime64[D]").astype(np.int64)
    monday = day - ((day + 3) % 7)  # 1970-01-01 was a Thursday
    first = int(monday.min())
    span = int(monday.max()) - first + 1
    keys, inverse = np.unique(group[at] * span + (monday - first), return_inverse=True)
    inverse = inverse.reshape(-1)
    per = np.column_stack(
        [
            np.bincount(inverse, minlength=len(keys)).astype(float),
            np.bincount(inverse, weights=hit[at], minlength=len(keys)),
            np.bincount(inverse, weights=base[at], minlength=len(keys)),
        ]
    )
    total = np.cumsum(np.vstack([np.zeros(3), per]), axis=0)
    owner = keys // span
    start = np.searchsorted(owner, owner, side="left")  # each week's group's first week
    rows = np.arange(len(keys))
    roll = total[rows + 1] - total[np.maximum(rows + 1 - ROLLING_WEEKS, start)]
    last = np.searchsorted(owner, owner, side="right") - rows <= TREND_WEEKS
    weeks = (keys % span + first).astype("datetime64[D]")
    for r in np.flatnonzero(last).tolist():
        n, hits, b = roll[r].tolist()
        out[int(owner[r])].append(
            {"week": str(weeks[r]), "n": int(n), "hit_rate": hits / n, "baseline": b / n}
        )
    return out


def hourly_record(db: sqlite_utils.Database, symbols: list[str] | None = None) -> dict[str, Any]:
    """The record of the hour-ahead calls (docs/intraday.md): per horizon (in session hours)
    the 80% and 95% ranges' coverage over all calls and per hour of the session of the
    target bar (`by_slot`, slot 0 = the first hour), and per symbol and horizon the hit rate
    next to the baselines with n, the paired Newey-West p over the call hours and the
    verdict (Holm over the rows shown together), as the daily rows have them."""
    counts = hourly_calls.counts(db, symbols)
    out: dict[str, Any] = {"counts": counts, "horizons": [], "groups": []}
    rows = hourly_calls.scored(db, symbols)
    if not rows:
        return out
    f = pd.DataFrame(rows)
    f["realized"] = outcomes.realized_return(f["base_price"], f["actual_price"])
    for h in sorted({int(x) for x in f["horizon"]}):
        g = f[f["horizon"] == h]
        out["horizons"].append(
            {
                "horizon": h,
                **_coverage(g),
                "by_slot": [
                    {"slot": slot, **_coverage(g[g["target_slot"] == slot])}
                    for slot in sorted({int(x) for x in g["target_slot"]})
                ],
            }
        )
    for sym, h in sorted(
        {(str(a), int(b)) for a, b in zip(f["symbol"], f["horizon"], strict=True)}
    ):
        g = f[(f["symbol"] == sym) & (f["horizon"] == h)]
        m: dict[str, Any] = dict(
            scores.directional(
                g["direction"].to_numpy(object),
                g["realized"].to_numpy(float),
                majority=g["majority"].fillna(1).to_numpy(int),
                last_move=g["last_move"].fillna(0).to_numpy(int),
                h=h,
                dates=pd.to_datetime(g["as_of"], utc=True).dt.tz_localize(None).to_numpy(),
            )
        )
        m["baselines"]["zero_change"] = {
            "mae_pct": float(np.mean(np.abs(100.0 * np.expm1(g["realized"]))))
        }
        m.update(
            {
                "symbol": sym,
                "horizon": h,
                "hit_rate": m["dir_accuracy"],
                "mae_pct": float(np.mean(np.abs(g["error_pct"]))),
                "model_versions": sorted(set(g["model_version"])),
            }
        )
        out["groups"].append(m)
    scores.judge(out["groups"])
    for m in out["groups"]:
        m["verdict_text"] = verdict(m)
    return out


def _coverage(g: pd.DataFrame) -> dict[str, Any]:
    """n, realized coverage and mean interval score (in % of the base price) of the 80% and
    95% ranges (None with no call), as `models.scorecard.ranges` has them."""
    out: dict[str, Any] = {}
    base = g["base_price"].to_numpy(float)
    for level, lo, hi in ((80, "lower", "upper"), (95, "lower95", "upper95")):
        known = g[f"covered{level}"].notna().to_numpy()
        score = intervals.winkler_score(
            g["actual_price"].to_numpy(float)[known] / base[known],
            g[lo].to_numpy(float)[known] / base[known],
            g[hi].to_numpy(float)[known] / base[known],
            level / 100,
        )
        n = int(known.sum())
        out[f"range{level}"] = {
            "n": n,
            "coverage": float(g[f"covered{level}"].to_numpy(float)[known].mean()) if n else None,
            "interval_score_pct": float(100 * np.mean(score)) if n else None,
        }
    return out
