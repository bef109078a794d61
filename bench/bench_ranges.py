"""The product's own ranges and volatility forecasts, walk-forward on real public daily data.

What runs is the cycle's code, not a re-implementation: `models.volatility.forecast_at_end`
on the trailing window the cycle loads (about 550 sessions ending at the call's date) and
`assistant.cycle.ranges.choose` on the standardized residuals of the calls whose outcome
was known by the call's date (newest 500 per symbol and horizon, as the ledger read keeps).
The expected return is taken as zero (the cycle's pooled expectation is a small fraction
of sigma), so the ranges measure the volatility side alone.

Data: AAPL, GOOG, IBM, MSFT (bokeh_sampledata, split-adjusted OHLC) and the S&P 500 and
NASDAQ composite indices (arch.data). Calls from 2007 warm the residual pools; the figures
are for calls dated 2009-01-01..2013-02-22, which nothing was chosen or tuned on.

Targets (issue 12): 80% and 95% ranges cover within +-2 pp of nominal pooled per horizon,
and within +-5 pp for every symbol with >= 250 calls; QLIKE at least 5% better than EWMA
(lambda 0.94) and than trailing-20.

Run: python bench/bench_ranges.py   (about 1-2 minutes on 2 cores)
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
from bench_edge import load_ohlc  # noqa: E402

from assistant.cycle import ranges  # noqa: E402
from models import intervals, volatility  # noqa: E402

HORIZONS = (1, 3, 5)
WINDOW = 550  # sessions the cycle loads (LOOKBACK_DAYS = 800 calendar days)
WARM, TEST, END = "2007-01-01", "2009-01-01", "2013-02-22"
POOL = 500  # newest verified calls per (symbol, horizon) the ledger read keeps


def forecasts(symbol: str, bars: pd.DataFrame) -> pd.DataFrame:
    """One row per (date, h): the cycle's variance forecast and baselines, and the outcome."""
    rows = []
    close = bars["close"]
    logc = np.log(close.to_numpy())
    dates = bars.index
    for i in np.flatnonzero((dates >= WARM) & (dates <= END)).tolist():
        fc = volatility.forecast_at_end(bars.iloc[max(0, i - WINDOW + 1) : i + 1], HORIZONS)
        for h in HORIZONS:
            if i + h >= len(bars):
                continue
            f = fc[h]
            realized = float(np.sum(np.diff(logc[i : i + h + 1]) ** 2))
            rows.append(
                (
                    symbol,
                    dates[i],
                    dates[i + h],
                    h,
                    f.variance,
                    f.ewma,
                    f.trailing,
                    float(logc[i + h] - logc[i]),
                    realized,
                    f.model,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "symbol",
            "date",
            "known",
            "h",
            "var",
            "ewma",
            "trailing",
            "ret",
            "realized",
            "model",
        ],
    )


def conformal(calls: pd.DataFrame) -> pd.DataFrame:
    """q80/q95 per call from residuals known by its date, with the cycle's own rule."""
    calls = calls.sort_values("date").reset_index(drop=True)
    calls["z"] = intervals.standardized_residual(calls["ret"], 0.0, np.sqrt(calls["var"]))
    symbols = sorted(calls["symbol"].unique())
    q80 = np.full(len(calls), np.nan)
    q95 = np.full(len(calls), np.nan)
    symbol_of, h_of = calls["symbol"].to_numpy(), calls["h"].to_numpy()  # by row position
    for day, idx in calls.groupby("date").groups.items():
        known = calls[calls["known"] <= day]
        scores = {}
        for key, g in known.groupby(["symbol", "h"]):
            s, h = cast(tuple[str, int], key)
            scores[(s, int(h))] = g.sort_values("known")["z"].to_numpy()[-POOL:]
        chosen = ranges.choose(scores, symbols, list(HORIZONS))
        for j in idx:
            q = chosen[(symbol_of[j], int(h_of[j]))]
            q80[j], q95[j] = q
    calls["q80"], calls["q95"] = q80, q95
    return calls


def main() -> None:
    t0 = time.perf_counter()
    bars = load_ohlc()
    parts = Parallel(n_jobs=2)(delayed(forecasts)(s, b) for s, b in sorted(bars.items()))
    calls = conformal(pd.concat(parts, ignore_index=True))
    test = calls[(calls["date"] >= TEST) & (calls["date"] <= END)].copy()
    sigma = np.sqrt(test["var"])
    rows = []
    for h in HORIZONS:
        g = test[test["h"] == h]
        s = np.sqrt(g["var"])
        for level, col in ((0.80, "q80"), (0.95, "q95")):
            inside = (g["ret"].abs() <= g[col] * s).to_numpy()
            pooled = inside.mean()
            rows.append(
                (
                    f"range {int(level * 100)}% h{h} pooled coverage",
                    f"{pooled:.3f}",
                    f"{level:.2f}+-0.02",
                    abs(pooled - level) <= 0.02,
                    len(g),
                )
            )
            per = (
                g.assign(inside=inside)
                .groupby("symbol")
                .agg(n=("inside", "size"), cov=("inside", "mean"))
            )
            per = per[per["n"] >= 250]
            worst = str(per["cov"].sub(level).abs().idxmax())
            ok = bool((per["cov"].sub(level).abs() <= 0.05).all())
            rows.append(
                (
                    f"range {int(level * 100)}% h{h} worst symbol",
                    f"{per['cov'][worst]:.3f} {worst}",
                    f"{level:.2f}+-0.05",
                    ok,
                    len(per),
                )
            )
        q = {k: volatility.mean_qlike(g["realized"], g[k]) for k in ("var", "ewma", "trailing")}
        for base in ("ewma", "trailing"):
            gain = 1 - q["var"] / q[base]
            rows.append(
                (
                    f"vol h{h} QLIKE vs {base}",
                    f"{q['var']:.3f} vs {q[base]:.3f} ({100 * gain:+.1f}%)",
                    ">= 5% better",
                    gain >= 0.05,
                    len(g),
                )
            )
    print(
        f"symbols: {', '.join(sorted(bars))}; calls {TEST}..{END} scored, from {WARM} warming pools"
    )
    print(f"variance model used: {test['model'].value_counts().to_dict()}")
    print(f"\n{'figure':<34} {'value':<30} {'target':<14} {'result':<6} n")
    for name, value, target, ok, n in rows:
        print(f"{name:<34} {value:<30} {target:<14} {'PASS' if ok else 'FAIL':<6} {n}")
    print(
        f"\nmean sigma of the 1-session forecast {sigma[test['h'] == 1].mean():.4f}; "
        f"took {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
