"""The scores of ledger-shaped calls beyond their direction: ranges, volatility, ranking.

`report` (on the calls a home verified) and the walk-forward backtest (on the calls it
made) both score with these functions, so a figure means the same in both. A group of
calls is any mapping from column name to a numpy array, with the ledger's columns:
base_price, actual_price, lower/upper (the 80% range), lower95/upper95, covered80/95
(1/0, NaN for a call without a range), realized_var (sum of squared daily log returns
over the call's h sessions), vol_var/vol_ewma/vol_trailing (the variance forecast made
with the call and its two baselines), symbol, as_of, pred_change_pct and realized (the
realized log return).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from models import intervals, selective, volatility


class Group(Protocol):
    """Calls as columns: group[name] is one numpy array per ledger column."""

    def __getitem__(self, name: str, /) -> np.ndarray: ...


def ranges(g: Group) -> dict[str, Any]:
    """Realized coverage of the 80% and 95% ranges and their mean interval score (in % of
    the base price), over the calls that carried them."""
    out: dict[str, Any] = {}
    base = g["base_price"]
    for level, lo, hi, col in (
        (0.80, "lower", "upper", "covered80"),
        (0.95, "lower95", "upper95", "covered95"),
    ):
        rows = np.isfinite(g[col])
        n = int(rows.sum())
        score = intervals.winkler_score(
            g["actual_price"][rows] / base[rows],
            g[lo][rows] / base[rows],
            g[hi][rows] / base[rows],
            level,
        )
        out[f"range{int(level * 100)}"] = {
            "n": n,
            "coverage": float(g[col][rows].mean()) if n else None,
            "interval_score_pct": float(100 * np.mean(score)) if n else None,
        }
    return out


def vol_scores(g: Group) -> dict[str, Any]:
    """QLIKE of the volatility forecast and of its two baselines on the same calls, pooled
    and per calendar year of the call (`by_year`: a storm year shows beside the calm ones)."""
    cols = ("realized_var", "vol_var", "vol_ewma", "vol_trailing")
    rows = np.logical_and.reduce([np.isfinite(g[c]) for c in cols])
    if not rows.any():
        return {"n": 0}
    out = _qlike(g, rows)
    years = np.array([str(d)[:4] for d in g["as_of"]], dtype=object)
    out["by_year"] = {
        str(y): _qlike(g, rows & (years == y)) for y in sorted(set(years[rows].tolist()))
    }
    return out


def _qlike(g: Group, rows: np.ndarray) -> dict[str, Any]:
    realized = g["realized_var"][rows]
    q = {
        k: volatility.mean_qlike(realized, g[f"vol_{k}"][rows]) for k in ("var", "ewma", "trailing")
    }
    return {
        "n": int(rows.sum()),
        "qlike": q["var"],
        "qlike_ewma": q["ewma"],
        "qlike_trailing": q["trailing"],
        "gain_vs_ewma": 1 - q["var"] / q["ewma"] if q["ewma"] else None,
        "gain_vs_trailing": 1 - q["var"] / q["trailing"] if q["trailing"] else None,
    }


def ranking(g: Group, h: int) -> dict[str, Any] | None:
    """Information coefficient across symbols per as-of date (needs 5+ symbols)."""
    if len(set(np.asarray(g["symbol"]).tolist())) < selective.MIN_IC_SYMBOLS:
        return None
    calls = pd.DataFrame(
        {
            "date": g["as_of"],
            "expected": np.log1p(g["pred_change_pct"] / 100),
            "realized": g["realized"],
        }
    )
    ic = selective.information_coefficient(calls, h=h)
    return {k: ic[k] for k in ("mean", "t", "n_days")} if ic["n_days"] else None
