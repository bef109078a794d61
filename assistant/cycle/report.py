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
expected and realized return; averaged, with a Newey-West t-stat). Expired calls are
counted apart.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from models import intervals, outcomes, selective, volatility
from models import metrics as scores
from models.outcomes import CLASSES
from store import bars as bar_store
from store import predictions as ledger

TREND_WEEKS = 26
ROLLING_WEEKS = 4
SIGNIFICANCE = 0.05


def build(db: sqlite_utils.Database, symbols: list[str] | None = None) -> dict[str, Any]:
    rows = ledger.scored(db, symbols)
    counts = ledger.counts(db, symbols)
    out: dict[str, Any] = {"counts": counts, "groups": []}
    if not rows:
        return out
    frame = pd.DataFrame(rows)
    info = [json.loads(sig or "{}") for sig in frame["signals"]]
    frame["last_move"] = [_sign(i.get("last_move")) for i in info]
    frame["majority"] = [_sign(i.get("majority", 1)) for i in info]
    frame["realized"] = outcomes.realized_return(frame["base_price"], frame["actual_price"])
    frame["actual_pct"] = 100.0 * np.expm1(frame["realized"])
    frame["realized_var"] = _realized_var(db, frame)
    vol = [json.loads(sig or "{}").get("vol") or {} for sig in frame["signals"]]
    for key in ("var", "ewma", "trailing"):
        frame[f"vol_{key}"] = [v.get(key, np.nan) for v in vol]
    out["horizons"] = [
        {"horizon": h, **ranges(g), "volatility": vol_scores(g), "ranking": ranking(g, h)}
        for h, g in ((int(str(k)), v) for k, v in frame.groupby("horizon", sort=True))
    ]
    for (sym, h), g in frame.groupby(["symbol", "horizon"], sort=True):
        group = {"symbol": sym, "horizon": int(h), **metrics(g), **ranges(g)}  # type: ignore[call-overload]  # pandas-stubs type group keys as Hashable
        group["volatility"] = vol_scores(g)
        group["model_versions"] = sorted(g["model_version"].unique().tolist())
        group["by_regime"] = {
            str(r): metrics(rg) for r, rg in g.groupby(g["regime"].fillna("unknown"))
        }
        group["calibration"] = calibration(g)
        group["trend"] = trend(g, group["stronger_baseline"])
        out["groups"].append(group)
    return out


def _realized_var(db: sqlite_utils.Database, frame: pd.DataFrame) -> np.ndarray:
    """Per call: the sum of squared daily log returns over its h sessions (NaN if unknown)."""
    out = np.full(len(frame), np.nan)
    first = str(frame["as_of"].min())  # no call needs a bar before its own as_of
    stored = bar_store.load_many(db, sorted(frame["symbol"].unique()), start=first)
    for (sym, h), g in frame.groupby(["symbol", "horizon"]):
        if sym not in stored:
            continue
        close = stored[str(sym)]["close"]
        rv = volatility.future_realized_var(close, int(str(h)))
        rv.index = pd.DatetimeIndex(rv.index).strftime("%Y-%m-%d")
        out[frame.index.get_indexer(g.index)] = rv.reindex(g["as_of"]).to_numpy(float)
    return out


def ranges(g: pd.DataFrame) -> dict[str, Any]:
    """Realized coverage of the 80% and 95% ranges and their mean interval score (in % of
    the base price), over the calls that carried them."""
    out: dict[str, Any] = {}
    for level, lo, hi, col in (
        (0.80, "lower", "upper", "covered80"),
        (0.95, "lower95", "upper95", "covered95"),
    ):
        rows = g[g[col].notna()]
        n = len(rows)
        score = intervals.winkler_score(
            rows["actual_price"] / rows["base_price"],
            rows[lo] / rows["base_price"],
            rows[hi] / rows["base_price"],
            level,
        )
        out[f"range{int(level * 100)}"] = {
            "n": n,
            "coverage": float(rows[col].mean()) if n else None,
            "interval_score_pct": float(100 * np.mean(score)) if n else None,
        }
    return out


def vol_scores(g: pd.DataFrame) -> dict[str, Any]:
    """QLIKE of the volatility forecast and of its two baselines on the same calls."""
    rows = g[np.isfinite(g["realized_var"]) & np.isfinite(g["vol_var"])]
    rows = rows[np.isfinite(rows["vol_ewma"]) & np.isfinite(rows["vol_trailing"])]
    if rows.empty:
        return {"n": 0}
    realized = rows["realized_var"].to_numpy(float)
    q = {
        k: volatility.mean_qlike(realized, rows[f"vol_{k}"].to_numpy(float))
        for k in ("var", "ewma", "trailing")
    }
    return {
        "n": len(rows),
        "qlike": q["var"],
        "qlike_ewma": q["ewma"],
        "qlike_trailing": q["trailing"],
        "gain_vs_ewma": 1 - q["var"] / q["ewma"] if q["ewma"] else None,
        "gain_vs_trailing": 1 - q["var"] / q["trailing"] if q["trailing"] else None,
    }


def ranking(g: pd.DataFrame, h: int) -> dict[str, Any] | None:
    """Information coefficient across symbols per as-of date (needs 5+ symbols)."""
    if g["symbol"].nunique() < selective.MIN_IC_SYMBOLS:
        return None
    calls = pd.DataFrame(
        {
            "date": g["as_of"].to_numpy(),
            "expected": np.log1p(g["pred_change_pct"].to_numpy(float) / 100),
            "realized": g["realized"].to_numpy(float),
        }
    )
    ic = selective.information_coefficient(calls, h=h)
    return {k: ic[k] for k in ("mean", "t", "n_days")} if ic["n_days"] else None


def _sign(v: Any) -> int:
    """A stored baseline call (+1/-1/0, or an older 'up'/'down'/'flat' label) as a sign."""
    if isinstance(v, str):
        return {"up": 1, "down": -1}.get(v, 0)
    return 0 if v is None else int(np.sign(float(v)))


def metrics(g: pd.DataFrame) -> dict[str, Any]:
    h = int(g["horizon"].iloc[0])
    realized = g["realized"].to_numpy(float)
    m = scores.directional(
        g["direction"].to_numpy(object),
        realized,
        majority=g["majority"].to_numpy(),
        last_move=g["last_move"].to_numpy(),
        h=h,
        dates=g["as_of"].to_numpy(),
    )
    cls = np.array([CLASSES.index(c) for c in g["outcome"]])
    probs = g[["p_down", "p_flat", "p_up"]].to_numpy(float)
    b = scores.brier(probs, cls)
    ref = scores.brier(_climatology(g), cls)
    m.update(
        {
            "hit_rate": m["dir_accuracy"],
            "mae_pct": float(np.mean(np.abs(g["error_pct"].to_numpy(float)))),
            "brier": b,
            "brier_skill": 1 - b / ref if ref else None,
        }
    )
    m["baselines"]["zero_change"] = {
        "mae_pct": float(np.mean(np.abs(g["actual_pct"].to_numpy(float))))
    }
    m["verdict"] = verdict(m)
    return m


def _climatology(g: pd.DataFrame) -> np.ndarray:
    """Per call: class frequencies of this group's calls verified before its as_of date
    (one pseudo-count each), the reference forecast of the Brier skill score."""
    order = np.argsort(g["target_date"].to_numpy(str), kind="stable")
    targets = g["target_date"].to_numpy(str)[order]
    cls = np.array([CLASSES.index(c) for c in g["outcome"]])[order]
    counts = np.vstack([np.zeros(3), np.cumsum(np.eye(3)[cls], axis=0)])
    known = np.searchsorted(targets, g["as_of"].to_numpy(str), side="right")
    freq = counts[known] + 1.0
    return freq / freq.sum(axis=1, keepdims=True)


def verdict(m: dict[str, Any]) -> str:
    n, p = m["n"], m["p_value"]
    base = m["stronger_baseline"].replace("_", "-")
    label = f"; {m['label']}" if m.get("label") else ""
    if n and p is not None and p < SIGNIFICANCE and (m["edge"] or 0) > 0:
        return f"beats {base} (p={p:.3g}, n={n}){label}"
    return f"no measured edge over {base} (n={n}){label}"


def calibration(g: pd.DataFrame) -> list[dict[str, Any]]:
    """Directional calls by the confidence shown with them: stated against realized."""
    g = g[g["hit"].notna()]
    conf = g["confidence"].astype(float).to_numpy()
    bucket = outcomes.buckets_of(conf)
    out = []
    for b in sorted(set(bucket.tolist())):
        sel = bucket == b
        out.append(
            {
                "lo": b / 10,
                "hi": (b + 1) / 10,
                "n": int(sel.sum()),
                "stated": float(conf[sel].mean()),
                "realized": float(g["hit"].to_numpy()[sel].mean()),
            }
        )
    return out


def trend(g: pd.DataFrame, baseline: str) -> list[dict[str, Any]]:
    """Per week (by target date, weeks starting Monday): the rolling 4-week hit rate of the
    directional calls and the stronger baseline's hit rate on the same calls."""
    hit = g["hit"].to_numpy(float)
    keep = np.isfinite(hit)
    column = "up_hit" if baseline == "always_up" else "majority_hit"
    day = g["target_date"].to_numpy(str)[keep].astype("datetime64[D]")
    monday = day - ((day.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
    weeks, at = np.unique(monday, return_inverse=True)
    per = np.zeros((len(weeks), 3))
    np.add.at(
        per, at, np.column_stack([np.ones(len(at)), hit[keep], g[column].to_numpy(float)[keep]])
    )
    total = np.cumsum(np.vstack([np.zeros(3), per]), axis=0)
    roll = total[1:] - total[np.maximum(np.arange(1, len(weeks) + 1) - ROLLING_WEEKS, 0)]
    return [
        {
            "week": str(w),
            "n": int(n),
            "hit_rate": float(hits / n),
            "baseline": float(base / n),
        }
        for w, (n, hits, base) in zip(weeks[-TREND_WEEKS:], roll[-TREND_WEEKS:], strict=True)
    ]
