"""Issue 34, third pass: `report` scores every group (symbol x horizon, and regime within it)
at once. The group-by-group code it replaced is kept here as the reference: counts, labels,
hit rates and the printed means must be identical; the paired test's Newey-West sums add the
same terms in another order, so its p-value and standard error are held to 1e-12 relative
(they are printed rounded, to 3 and 6 digits, and come out identical on these ledgers)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from assistant.cycle import report
from assistant.cycle.report import DIRECTIONAL, Calls
from models import metrics as scores
from models.outcomes import CLASSES, buckets_of

REL = 1e-12


def _old_climatology(g: Calls) -> np.ndarray:
    order = np.argsort(g["target_text"], kind="stable")
    targets = g["target_text"][order]
    cls = g["class_code"][order]
    counts = np.vstack([np.zeros(3), np.cumsum(np.eye(3)[cls], axis=0)])
    known = np.searchsorted(targets, g["as_of_text"], side="right")
    freq = counts[known] + 1.0
    out: np.ndarray = freq / freq.sum(axis=1, keepdims=True)
    return out


def _old_metrics(g: Calls) -> dict[str, Any]:
    """`report.metrics` before the third pass: one group at a time."""
    h = int(g["horizon"][0])
    rows = {k: g[DIRECTIONAL + k] for k in scores.DIRECTIONAL_ROWS}
    m: dict[str, Any] = dict(scores.directional_scores(rows, h=h, dates=g["as_of"]))
    cls = g["class_code"]
    b = float(np.mean(g["brier_row"]))
    ref = scores.brier(_old_climatology(g), cls)
    m.update(
        {
            "hit_rate": m["dir_accuracy"],
            "mae_pct": float(np.mean(np.abs(g["error_pct"]))),
            "brier": b,
            "brier_skill": 1 - b / ref if ref else None,
        }
    )
    m["baselines"]["zero_change"] = {"mae_pct": float(np.mean(np.abs(g["actual_pct"])))}
    return m


def _old_calibration(g: Calls) -> list[Any]:
    """`report.calibration` before the third pass (one group)."""
    called = np.isfinite(g["hit"])
    conf = g["confidence"][called]
    hit = g["hit"][called]
    bucket = buckets_of(conf)
    out: list[Any] = []
    for b in sorted(set(bucket.tolist())):
        sel = bucket == b
        out.append(
            {
                "lo": b / 10,
                "hi": (b + 1) / 10,
                "n": int(sel.sum()),
                "stated": float(conf[sel].mean()),
                "realized": float(hit[sel].mean()),
            }
        )
    return out


def _old_trend(g: Calls, baseline: str) -> list[Any]:
    """`report.trend` before the third pass (one group)."""
    hit = g["hit"]
    keep = np.isfinite(hit)
    column = "up_hit" if baseline == "always_up" else "majority_hit"
    day = g["target_text"][keep].astype("datetime64[D]")
    monday = day - ((day.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
    weeks, at = np.unique(monday, return_inverse=True)
    per = np.zeros((len(weeks), 3))
    np.add.at(per, at, np.column_stack([np.ones(len(at)), hit[keep], g[column][keep]]))
    total = np.cumsum(np.vstack([np.zeros(3), per]), axis=0)
    roll = total[1:] - total[np.maximum(np.arange(1, len(weeks) + 1) - report.ROLLING_WEEKS, 0)]
    return [
        {
            "week": str(w),
            "n": int(n),
            "hit_rate": float(hits / n),
            "baseline": float(base / n),
        }
        for w, (n, hits, base) in zip(
            weeks[-report.TREND_WEEKS :], roll[-report.TREND_WEEKS :], strict=True
        )
    ]


def _ledger(seed: int = 7) -> Calls:
    """~12,000 verified calls as the report holds them: 40 symbols x horizons 1, 5, 20 x
    ~100 sessions, regimes (and none), FLAT calls, calls verified late, a symbol that
    always calls UP, one that never calls, one with a single call."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2006-09-01", periods=420)
    cols: dict[str, list[Any]] = {k: [] for k in ("symbol", "horizon", "as_of", "target_date")}
    for i in range(40):
        for h in (1, 5, 20):
            count = 1 if i == 39 else int(rng.integers(40, 140))
            start = np.sort(rng.choice(len(days) - 25, size=count, replace=False))
            cols["symbol"] += [f"S{i:02d}"] * count
            cols["horizon"] += [float(h)] * count
            cols["as_of"] += [str(days[s].date()) for s in start]
            cols["target_date"] += [str(days[s + h].date()) for s in start]
    n = len(cols["symbol"])
    sym = np.array(cols["symbol"], dtype=object)
    direction = rng.choice(np.array(["up", "down", "flat"], dtype=object), n, p=[0.5, 0.3, 0.2])
    direction[sym == "S00"] = "up"
    direction[sym == "S01"] = "flat"
    realized = rng.normal(0.0005, 0.02, n)
    realized[rng.random(n) < 0.03] = 0.0
    probs = rng.dirichlet([2.0, 1.0, 2.0], n)
    regime = rng.choice(np.array(["calm", "trend", "storm", None], dtype=object), n)
    calls = Calls(
        {
            "id": np.arange(n),
            "symbol": sym,
            "horizon": np.array(cols["horizon"]),
            "as_of": np.array(cols["as_of"], dtype=object),
            "target_date": np.array(cols["target_date"], dtype=object),
            "error_pct": rng.normal(0, 2, n),
            "realized": realized,
            "actual_pct": 100.0 * np.expm1(realized),
        }
    )
    rows = scores.directional_rows(
        direction, realized, majority=rng.choice([1, -1], n), last_move=rng.choice([1, 0, -1], n)
    )
    for key, values in rows.items():
        calls[DIRECTIONAL + key] = values
    outcome = np.where(realized > 0.004, "up", np.where(realized < -0.004, "down", "flat"))
    calls["class_code"] = np.array([CLASSES.index(c) for c in outcome], dtype=np.int64)
    calls["brier_row"] = scores.brier_rows(probs, calls["class_code"])
    calls["as_of_text"] = calls["as_of"].astype(str)
    calls["target_text"] = calls["target_date"].astype(str)
    calls["as_of_day"] = calls["as_of_text"].astype("datetime64[D]").astype(np.int64)
    calls["regime_or_unknown"] = np.array(
        ["unknown" if r is None else str(r) for r in regime], dtype=object
    )
    for key, scale in (("realized_var", 1.0), ("vol_var", 1.1), ("vol_ewma", 0.9)):
        calls[key] = scale * rng.gamma(2.0, 2e-4, n)
    calls["vol_trailing"] = rng.gamma(2.0, 2e-4, n)
    calls["realized_var"][rng.random(n) < 0.05] = np.nan  # not yet known
    calls["vol_var"][sym == "S02"] = np.nan  # a symbol with no variance forecast
    calls["vol_ewma"][rng.random(n) < 0.02] = np.nan
    base = rng.uniform(20, 300, n)
    calls["base_price"], calls["actual_price"] = base, base * np.exp(realized)
    for lo, hi, width, col in (
        ("lower", "upper", 0.02, "covered80"),
        ("lower95", "upper95", 0.04, "covered95"),
    ):
        calls[lo] = base * np.exp(-width * rng.uniform(0.5, 1.5, n))
        calls[hi] = base * np.exp(width * rng.uniform(0.5, 1.5, n))
        inside = (calls[lo] <= calls["actual_price"]) & (calls["actual_price"] <= calls[hi])
        calls[col] = np.where(rng.random(n) < 0.1, np.nan, inside.astype(float))  # no range
    calls["covered95"][sym == "S03"] = np.nan  # a symbol whose calls carried no 95% range
    calls["hit"] = rows["hit"]
    calls["up_hit"], calls["majority_hit"] = rows["always_up_hit"], rows["majority_hit"]
    calls["confidence"] = rng.uniform(0.3, 0.99, n)
    calls["model_version"] = rng.choice(np.array(["xgboost-v1", "lstm-v2"], dtype=object), n)
    return calls


def _close(old: object, new: object, where: str) -> None:
    if isinstance(old, dict):
        assert isinstance(new, dict) and list(old) == list(new), where
        for k in old:
            _close(old[k], new[k], f"{where}.{k}")
    elif isinstance(old, float) and math.isnan(old):
        assert isinstance(new, float) and math.isnan(new), where
    elif isinstance(old, float) and isinstance(new, float):
        assert math.isclose(old, new, rel_tol=REL, abs_tol=1e-300), (where, old, new)
    else:
        assert type(old) is type(new) and old == new, (where, old, new)


def test_all_groups_at_once_score_as_group_by_group():
    calls = _ledger()
    for keys in (("symbol", "horizon"), ("symbol", "horizon", "regime_or_unknown")):
        got = report.metrics_of_groups(calls, *keys)
        old = calls.groups(*keys)
        assert [k for k, _ in got] == [k for k, _ in old]
        assert len(got) > 100
        for (key, new), (_, g) in zip(got, old, strict=True):
            _close(_old_metrics(g), new, str(key))
    rows = dict(report.metrics_of_groups(calls, "symbol", "horizon"))
    assert rows[("S00", 5.0)]["label"] == "calls UP 100% of the time"
    assert rows[("S01", 1.0)]["n"] == 0 and rows[("S01", 1.0)]["p_value"] is None
    assert rows[("S39", 20.0)]["n_dates"] <= 1 and rows[("S39", 20.0)]["p_value"] is None


def test_the_printed_means_are_the_very_same_numbers():
    """Brier, its skill and the MAEs are printed unrounded: each group's mean is summed as
    `np.mean` of the group's array summed it (182 of this ledger's 471 regime rows differ in
    their last bits when summed by a bincount instead), so they are equal bit for bit."""
    calls = _ledger(seed=3)
    got = report.metrics_of_groups(calls, "symbol", "horizon", "regime_or_unknown")
    old = calls.groups("symbol", "horizon", "regime_or_unknown")
    for (key, new), (_, g) in zip(got, old, strict=True):
        o = _old_metrics(g)
        for name in ("brier", "brier_skill", "mae_pct"):
            assert new[name] == o[name], (key, name)
        zero = "zero_change"
        assert new["baselines"][zero]["mae_pct"] == o["baselines"][zero]["mae_pct"], key


def _old_versus_factors(frame: pd.DataFrame, closes: pd.DataFrame, h: int) -> object:
    """`scorecard.versus_factors` before the third pass: the factors stacked and reindexed."""
    from models import scorecard, selective

    model_ic = selective.daily_ic(frame)
    at = pd.MultiIndex.from_arrays([pd.to_datetime(frame["date"]), frame["symbol"]])
    factors: dict[str, Any] = {}
    ics: dict[str, pd.Series] = {}
    for name, wide in scorecard.factor_values(closes, h).items():
        long = wide.stack()
        scored = frame[["date", "realized"]].assign(expected=long.reindex(at).to_numpy())
        ic = selective.daily_ic(scored)
        ics[name] = ic
        years = pd.DatetimeIndex(pd.to_datetime(ic.index)).year
        factors[name] = {
            "mean": float(ic.mean()) if len(ic) else None,
            "t": scorecard._t(ic.to_numpy(float), h),
            "n_days": len(ic),
            "years": {str(y): float(ic[years == y].mean()) for y in sorted(set(years.tolist()))},
        }
    ranked = [n for n in factors if factors[n]["mean"] is not None]
    better = max(ranked, key=lambda n: factors[n]["mean"] or 0.0) if ranked else None
    diff = (model_ic - ics[better]).dropna() if better else pd.Series(dtype=float)
    mean = float(diff.mean()) if len(diff) else None
    t = scorecard._t(diff.to_numpy(float), h)
    return {
        "factors": factors,
        "better": better,
        "diff": mean,
        "diff_t": t,
        "beats": bool(mean is not None and mean > 0 and t is not None and t >= 2.0),
    }


def _closes(rng: np.random.Generator, names: list[str], days: pd.DatetimeIndex) -> pd.DataFrame:
    moves = rng.normal(0.0003, 0.02, (len(days), len(names)))
    wide = pd.DataFrame(100 * np.exp(np.cumsum(moves, axis=0)), index=days, columns=names)
    wide.index.name = "date"
    wide.iloc[rng.random(wide.shape) < 0.05] = np.nan  # sessions a symbol lacks
    wide.iloc[:300, 0] = np.nan  # a symbol listed late
    return wide


def test_the_factors_looked_up_cell_by_cell_equal_the_stacked_factors():
    from models import scorecard

    rng = np.random.default_rng(5)
    names = [f"S{i}" for i in range(8)]
    days = pd.bdate_range("2005-01-03", periods=420)
    wide = _closes(rng, names, days)
    ranked = days[-60:]
    frame = pd.DataFrame(
        {
            "date": np.repeat(ranked.to_numpy(), len(names) + 1),
            "symbol": np.tile(np.array([*names, "GONE"], dtype=object), len(ranked)),
        }
    )  # GONE: ranked, no closes
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)  # a rank stored twice
    frame["expected"] = rng.normal(0, 0.01, len(frame))
    frame["realized"] = rng.normal(0, 0.02, len(frame))
    for h in (1, 5):
        old = _old_versus_factors(frame, wide, h)
        assert scorecard.versus_factors(frame, wide, h) == old
        assert old["factors"]["momentum"]["n_days"] > 0  # type: ignore[index]


def test_the_ranking_record_from_the_closes_it_needs_equals_the_one_from_all_of_them(
    db, monkeypatch
):
    """`ranking_record` reads the closes from FACTOR_LOOKBACK sessions before the first ranked
    date on (one query of the sessions it needs, not the whole history); the record is what
    the whole history gives. Read from too late a session, it is not (the test can fail)."""
    from store import bars as bar_store
    from store import rankings as rank_store
    from store import symbols

    rng = np.random.default_rng(9)
    names = [f"S{i}" for i in range(7)]
    symbols.add(db, names, "synthetic")
    days = pd.bdate_range("2004-01-01", periods=900)
    wide = _closes(rng, names, days)
    for name in names:
        close = wide[name].dropna()
        bars = pd.DataFrame(
            {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
            index=close.index,
        )
        bars["raw_close"], bars["adj_factor"], bars["provisional"], bars["flagged"] = (
            close,
            1.0,
            0,
            0,
        )
        bar_store.upsert(db, name, bars, "synthetic")
    rows = [
        rank_store.RankRow(name, str(d.date()), h, "ranking-v1", 1 + i, len(names), rel)
        for d in days[-80:-10]
        for h in (1, 5)
        for i, (name, rel) in enumerate(zip(names, rng.normal(0, 0.01, len(names)), strict=True))
    ]
    rank_store.upsert_many(db, rows)
    db.conn.commit()
    start = report._closes_start(db, None, [1, 5])
    assert start is not None and start > str(days[0].date())  # not the whole history
    got = report.ranking_record(db)
    assert got and all(r["record"] for r in got)
    assert got[0]["record"]["versus"]["factors"]["momentum"]["n_days"] > 0  # type: ignore[index]
    monkeypatch.setattr(report, "_closes_start", lambda *a: None)
    assert report.ranking_record(db) == got
    late = str(days[-200].date())  # fewer sessions than momentum looks back
    monkeypatch.setattr(report, "_closes_start", lambda *a: late)
    assert report.ranking_record(db) != got


def test_the_volatility_scores_of_all_groups_equal_each_group_alone():
    from models.scorecard import vol_scores

    calls = _ledger(seed=4)
    group, names = calls.group_codes("symbol", "horizon")
    got = report.vol_scores_of_groups(calls, group, len(names))
    old = calls.groups("symbol", "horizon")
    assert len(got) == len(old)
    for new, (key, g) in zip(got, old, strict=True):
        assert new == vol_scores(g), key  # bit for bit: the same sums in the same order
    assert got[names.index(("S02", 1.0))] == {"n": 0}
    assert len(got[0]["by_year"]) >= 2


def test_the_ranges_of_all_groups_equal_each_group_alone():
    from models.scorecard import ranges

    calls = _ledger(seed=6)
    group, names = calls.group_codes("symbol", "horizon")
    got = report.ranges_of_groups(calls, group, len(names))
    old = calls.groups("symbol", "horizon")
    for new, (key, g) in zip(got, old, strict=True):
        assert new == ranges(g), key  # bit for bit
    s03 = got[names.index(("S03", 5.0))]
    assert s03["range95"] == {"n": 0, "coverage": None, "interval_score_pct": None}
    assert s03["range80"]["n"] > 0


def test_calibration_trend_and_versions_of_all_groups_equal_each_group_alone():
    calls = _ledger(seed=8)
    group, names = calls.group_codes("symbol", "horizon")
    rows = report.metrics_of_groups(calls, "symbol", "horizon")
    baselines = [m["stronger_baseline"] for _, m in rows]
    assert {"always_up", "majority"} <= set(baselines)  # both baselines' columns are read
    calibration = report.calibration_of_groups(calls, group, len(names))
    trend = report.trends_of_groups(calls, group, baselines)
    versions = report._versions_of_groups(calls, group, len(names))
    for j, (key, g) in enumerate(calls.groups("symbol", "horizon")):
        assert calibration[j] == _old_calibration(g), key  # bit for bit
        assert trend[j] == _old_trend(g, baselines[j]), key
        assert versions[j] == sorted(set(g["model_version"].tolist())), key
    assert calibration[names.index(("S01", 1.0))] == []  # never called: no row
    assert max(len(t) for t in trend) == report.TREND_WEEKS  # long groups keep the last 26
