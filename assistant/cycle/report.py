"""The accuracy report: verified calls only, always next to the baselines, n and a p-value.

Per symbol and horizon (and within it per regime at prediction time): hit rate, MAE of
the % change, multi-class Brier score, the baselines — always the majority class,
always up, repeat the last h-session move, zero change — n, and a one-sided binomial
p-value against the majority baseline. Also the calibration table (stated confidence
against realized hit rate) and the trend: a 4-week rolling hit rate per week next to
the majority baseline over the same calls. Expired calls are counted apart.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.cycle.scoring import CLASSES, p_value
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
    info = [json.loads(s or "{}") for s in frame["signals"]]
    frame["last_move"] = [i.get("last_move") for i in info]
    frame["raw_confidence"] = [
        i.get("raw_confidence", c) for i, c in zip(info, frame["confidence"], strict=True)
    ]
    frame["actual_pct"] = 100.0 * (frame["actual_price"] / frame["base_price"] - 1.0)
    for (sym, h), g in frame.groupby(["symbol", "horizon"], sort=True):
        group = {"symbol": sym, "horizon": int(h), **metrics(g)}  # type: ignore[call-overload]  # pandas-stubs type group keys as Hashable
        group["model_versions"] = sorted(g["model_version"].unique().tolist())
        group["by_regime"] = {
            str(r): metrics(rg) for r, rg in g.groupby(g["regime"].fillna("unknown"))
        }
        group["calibration"] = calibration(g)
        group["trend"] = trend(g, group["baselines"]["majority"]["label"])
        out["groups"].append(group)
    return out


def metrics(g: pd.DataFrame) -> dict[str, Any]:
    n = len(g)
    hits = int(g["hit"].sum())
    outcome = g["outcome"].to_numpy()
    freq = {c: float(np.mean(outcome == c)) for c in CLASSES}
    majority = max(CLASSES, key=lambda c: (freq[c], c == "up"))
    onehot = np.stack([(outcome == c).astype(float) for c in CLASSES], axis=1)
    probs = g[["p_down", "p_flat", "p_up"]].to_numpy(float)
    p = p_value(hits, n, freq[majority])
    hit_rate = hits / n
    return {
        "n": n,
        "hit_rate": hit_rate,
        "mae_pct": float(np.mean(np.abs(g["error_pct"].to_numpy(float)))),
        "brier": float(np.mean(np.sum((probs - onehot) ** 2, axis=1))),
        "baselines": {
            "majority": {"label": majority, "hit_rate": freq[majority]},
            "always_up": {"hit_rate": freq["up"]},
            "last_move": {"hit_rate": float(np.mean(g["last_move"].to_numpy() == outcome))},
            "zero_change": {
                "hit_rate": freq["flat"],
                "mae_pct": float(np.mean(np.abs(g["actual_pct"].to_numpy(float)))),
            },
        },
        "edge": hit_rate - freq[majority],
        "p_value": p,
        "verdict": verdict(hit_rate, freq[majority], p, n),
    }


def verdict(hit_rate: float, baseline: float, p: float | None, n: int) -> str:
    if p is not None and p < SIGNIFICANCE and hit_rate > baseline:
        return f"beats the majority baseline (p={p:.3f}, n={n})"
    return f"no measured edge over the majority baseline (n={n})"


def calibration(g: pd.DataFrame) -> list[dict[str, Any]]:
    conf = g["raw_confidence"].astype(float).to_numpy()
    bucket = np.clip((conf * 10).astype(int), 0, 9)
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


def trend(g: pd.DataFrame, majority: str) -> list[dict[str, Any]]:
    """Per week (by target date): the rolling 4-week hit rate and the majority baseline."""
    dates = pd.to_datetime(g["target_date"])
    week = (dates - pd.to_timedelta(dates.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d")
    per = pd.DataFrame(
        {
            "week": week.to_numpy(),
            "hit": g["hit"].to_numpy(float),
            "base": (g["outcome"].to_numpy() == majority).astype(float),
        }
    )
    weekly = per.groupby("week").agg(n=("hit", "size"), hits=("hit", "sum"), base=("base", "sum"))
    roll = weekly.rolling(ROLLING_WEEKS, min_periods=1).sum()
    roll = roll.iloc[-TREND_WEEKS:]
    return [
        {"week": w, "n": int(r.n), "hit_rate": float(r.hits / r.n), "baseline": float(r.base / r.n)}
        for w, r in roll.iterrows()
    ]
