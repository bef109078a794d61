"""Issue 33's candidates: a fatter 95% tail when the variance forecast is rising, and extra
terms for the variance forecast, each kept ONLY if the validation years say so.

Data and protocol are bench_ranges's and bench_ranges_candidates's: the OHLC set (AAPL,
GOOG, IBM, MSFT, S&P 500, NASDAQ; to 2013-02) walked from 2001, and skfolio's 20 stocks
(close-to-close, to 2022-12) walked from 1993; the cycle's own code (forecast_walk,
adaptive_q). VALIDATION: 2003-2006 on both sets, and 1996-2006 on the panel (it holds the
1997-98 and 2000-02 storms). TEST: 2007 on; printed for every candidate, chosen on none.

Criteria, fixed before any run:
- ranges: bench_ranges's, the worst quarterly coverage error over both levels and every
  horizon, taken as the larger of (2003-06, both sets) and (panel 1996-2006). A candidate
  is kept only if that number is lower than issue 22's ranges' (line "c 0"), the lowest
  kept one chosen.
- variance: the pooled QLIKE gain over EWMA on the validation years (mean of the three
  views: OHLC 2003-06, panel 2003-06, panel 1996-2006). Kept only if it rises at h = 1 and
  falls at no horizon.

Range candidates ("rise c", 3- and 5-session calls; on the HAR with lev5): with
u = max(0, log(v_t / v_{t-5})), v_{t-5} the forecast from the same bars less the last 5
(volatility.range_scale with weight c; both known at t), the 95% range is
q95' x sigma x (1 + c u), where q95' is the adaptive conformal quantile of the scores
|r| / (sigma (1 + c u)) (the same ACI state, fed those scores): the tail is fatter exactly
when the forecast is rising, and the level stays calibrated on average. "rise c both" does
the same to the 80% range (one state, as the product: its vol_sigma is the widened sigma).
The 1-session ranges are unchanged. Chosen: "rise 2 both" (volatility.RISE_WEIGHT); the
per-year tables at the end are the product's, through bench_ranges.with_q.

Variance candidates (extra regressors of the cycle's HAR through forecast_walk's `exog`):
- ``gap``: log of the squared overnight gap ln(O_t / C_{t-1})^2 over the monthly mean
  daily proxy (floored at 1% of it; OHLC only: on close-only bars the plain HAR serves);
- ``lev5``: min(ln(C_t / C_{t-5}), 0) / sqrt(5 x monthly mean) (a week's fall), kept: the
  product's HAR now has it (line "lev5": the product; "lev5 x": the same term through
  exog, as first measured, with exog's fallbacks);
- ``days``: log of the calendar days from t to the h-th next XNYS session (a weekend or a
  holiday in the horizon; the exchange calendar is known in advance).
The VIX cannot be measured here: the public VIX (arch) covers 2014-2018 only, none of
these validation years; bench_context.py measured it (kept; the cycle uses it where ^VIX
is stored).

Run: python bench/bench_ranges_storm.py   (about 25 minutes on 2 loaded cores)
     python bench/bench_ranges_storm.py --mix   (bench_qlike round 2's gate, the HAR mixed
     with EWMA against the HAR alone, and the product's per-year tables)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ranges as br  # noqa: E402
from bench_edge import load_ohlc, load_panel  # noqa: E402

from assistant import calendar  # noqa: E402
from models import intervals as iv  # noqa: E402
from models import volatility  # noqa: E402

RISE_SESSIONS = 5
RISE_C = (0.5, 1.0, 2.0)
EXOG = ("gap", "lev5", "days")
STORMS = ("2008Q4", "2020Q1")
# the true-variance oracle's 95% coverage in a crash quarter lands here 95% of the time
# (issue 33, bench_ranges_oracle.py's panels, 10 stocks)
ORACLE_95_BAND = (0.873, 0.992)


def _month(bars: pd.DataFrame) -> np.ndarray:
    rv = volatility.daily_realized_var(bars).to_numpy(float)
    return volatility._trailing_mean(rv, max(volatility.HAR_WINDOWS))


def exog_for(name: str, bars: pd.DataFrame) -> dict[int, np.ndarray] | None:
    """Per horizon, the candidate's column known at each bar's close (None: the product)."""
    if name in ("har", "product"):
        return None
    month = _month(bars)
    logc = np.log(bars["close"].to_numpy(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "gap":
            if "open" not in bars:
                col = np.full(len(bars), np.nan)
            else:
                gap2 = (np.log(bars["open"].to_numpy(float)) - np.r_[np.nan, logc[:-1]]) ** 2
                col = np.log(np.maximum(gap2, 0.01 * month) / month)
            return dict.fromkeys(br.HORIZONS, col)
        if name == "lev5":
            week = logc - np.r_[np.full(5, np.nan), logc[:-5]]
            col = np.minimum(week, 0.0) / np.sqrt(5.0 * month)
            return dict.fromkeys(br.HORIZONS, col)
    if name == "days":
        index = pd.DatetimeIndex(bars.index)
        xnys = calendar.sessions("XNYS", index[0], index[-1] + pd.Timedelta(days=30))
        pos = xnys.searchsorted(index, side="right")  # the first session after each bar
        out = {}
        for h in br.HORIZONS:
            k = np.minimum(pos + h - 1, len(xnys) - 1)
            out[h] = np.log((xnys[k] - index).days.to_numpy(float))
        return out
    raise ValueError(name)


def _calls(
    symbol: str, bars: pd.DataFrame, first: str, exog: str, mix: bool = True
) -> pd.DataFrame:
    br.FIRST = first  # a worker process imports bench_ranges afresh
    with_lev5, mixes = volatility._har_matrix, volatility.MIX_WEIGHT
    if exog != "product":  # the HAR before issue 33: without the week's leverage term
        volatility._har_matrix = lambda rv, r: with_lev5(rv, r)[:, :-1]
    if not mix:  # the HAR alone, as before bench_qlike's round 2
        volatility.MIX_WEIGHT = {1: 1.0}
    try:
        return br.calls(symbol, bars, exog_for(exog, bars))
    finally:
        volatility._har_matrix, volatility.MIX_WEIGHT = with_lev5, mixes


def walk(
    jobs: list[tuple[str, str, pd.DataFrame]], exog: str, mix: bool = True
) -> dict[str, pd.DataFrame]:
    """{"ohlc", "panel" (from FIRST), "panel_long" (to 2006)}: the calls, sorted, scored."""
    first = {"ohlc": br.FIRST, "panel": "1993-01-01"}
    parts = Parallel(n_jobs=2)(delayed(_calls)(s, b, first[n], exog, mix) for n, s, b in jobs)
    data: dict[str, list[pd.DataFrame]] = {}
    for (name, _, _), part in zip(jobs, parts, strict=True):
        data.setdefault(name, []).append(part)
    out = {}
    for name, frames in data.items():
        df = pd.concat(frames).sort_values(["date", "symbol", "h"], kind="stable")
        df = df.reset_index(drop=True)
        out[name] = df
    long = out["panel"]
    out["panel_long"] = long[long["date"] < pd.Timestamp(f"{br.TEST}-01-01")]
    out["panel"] = long[long["date"] >= pd.Timestamp(br.FIRST)]
    return {k: v.reset_index(drop=True) for k, v in out.items()}


def ranged(df: pd.DataFrame, c: float, both: bool) -> pd.DataFrame:
    """The calls scored with rise-c ranges (c = 0: the product's)."""
    out = df.copy()
    sigma = np.sqrt(out["var"])
    widen = br.range_scale(out, c)
    z = iv.standardized_residual(out["ret"], 0.0, sigma)
    passes: list[tuple[str, np.ndarray, tuple[int, ...]]]
    if not c:
        passes = [("plain", z, (0, 1))]
    elif both:
        passes = [("wide", z / widen, (0, 1))]
    else:
        passes = [("plain", z, (0,)), ("wide", z / widen, (1,))]
    for name, scores, levels in passes:
        for _, g in out.groupby("h"):
            q = iv.adaptive_q(
                g["date"].to_numpy(), g["known"].to_numpy(), g["symbol"].to_numpy(),
                scores[g.index.to_numpy()],
            )  # fmt: skip
            for k in levels:
                out.loc[g.index, f"q{(80, 95)[k]}"] = q[k]
                out.loc[g.index, f"s{(80, 95)[k]}"] = sigma[g.index] * (
                    widen[g.index.to_numpy()] if name == "wide" else 1.0
                )
    for level in (80, 95):
        inside = (out["ret"].abs() <= out[f"q{level}"] * out[f"s{level}"]).astype(float)
        out[f"in{level}"] = np.where(out["ret"].notna(), inside, np.nan)
    return out


def years(df: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    y = df["date"].dt.year
    return df[(y >= first) & (y <= last)]


def range_line(name: str, runs: dict[str, pd.DataFrame]) -> tuple[float, str]:
    val = max(br.worst_error(years(runs[s], *br.VAL)) for s in ("ohlc", "panel"))
    storm = br.worst_error(years(runs["panel_long"], 1996, 2006))
    crit = max(val, storm)
    v5 = max(
        float((br.quarterly(years(runs[s], a, b)).loc[5]["cov95"] - 0.95).abs().max())
        for s, a, b in (("ohlc", *br.VAL), ("panel", *br.VAL), ("panel_long", 1996, 2006))
    )
    parts = [
        f"{name:<13} validation worst quarter {100 * crit:.1f} pp (2003-06 {100 * val:.1f}, "
        f"panel 1996-2006 {100 * storm:.1f}; 95% h5 {100 * v5:.1f}) | test"
    ]
    for s in ("ohlc", "panel"):
        t = br.quarterly(years(runs[s], br.TEST, 2100))
        th = t.loc[5]
        ok = int(((th["cov95"] - 0.95).abs() <= br.QUARTER_TOL).sum())
        storms = "".join(f" {q} {100 * float(th['cov95'][q]):.1f}" for q in STORMS if q in th.index)
        whole = years(runs[s], br.TEST, 2100)
        whole = whole[(whole["h"] == 5) & whole["ret"].notna()]
        parts.append(
            f"{s} 95% h5: {100 * whole['in95'].mean():.1f}, quarters {ok}/{len(th)},{storms}"
        )
    return crit, " ".join(parts)


def gains(data: dict[str, pd.DataFrame], col: str = "var") -> dict[int, float]:
    """Per horizon, the pooled validation QLIKE gain over EWMA, mean of the three views."""
    out = {}
    for h in br.HORIZONS:
        views = []
        for s, a, b in (("ohlc", *br.VAL), ("panel", *br.VAL), ("panel_long", 1996, 2006)):
            d = years(data[s], a, b)
            d = d[(d["h"] == h) & d["realized"].notna() & d["ewma"].notna()]
            views.append(
                1
                - volatility.mean_qlike(d["realized"], d[col])
                / volatility.mean_qlike(d["realized"], d["ewma"])
            )
        out[h] = float(np.mean(views))
    return out


def test_gains(data: dict[str, pd.DataFrame]) -> str:
    parts = []
    for s in ("ohlc", "panel"):
        d = years(data[s], br.TEST, 2100)
        per = []
        for h in br.HORIZONS:
            g = d[(d["h"] == h) & d["realized"].notna() & d["ewma"].notna()]
            gain = 1 - volatility.mean_qlike(g["realized"], g["var"]) / volatility.mean_qlike(
                g["realized"], g["ewma"]
            )
            per.append(f"h{h} {100 * gain:+.1f}%")
        parts.append(f"{s} " + " ".join(per))
    return "; ".join(parts)


def mix_gate(jobs: list[tuple[str, str, pd.DataFrame]]) -> None:
    """bench_qlike round 2's kept candidate (the HAR mixed with EWMA, volatility.MIX_WEIGHT)
    against the HAR alone: the variance gains and the product's ranges (rise 2 both) on
    validation (its gate: ranges no worse) and test; then the product's per-year tables."""
    runs = {"HAR alone": walk(jobs, "product", mix=False), "mixed": walk(jobs, "product")}
    crits = {}
    for name, data in runs.items():
        g = gains(data)
        print(
            f"{name:<9} variance validation "
            + " ".join(f"h{h} {100 * g[h]:+.2f}%" for h in br.HORIZONS)
            + f" | test pooled: {test_gains(data)}",
            flush=True,
        )
        w = volatility.RISE_WEIGHT
        crits[name], line = range_line(
            f"{name}, rise {w:g} both", {s: ranged(d, w, True) for s, d in data.items()}
        )
        print(line, flush=True)
    keep = crits["mixed"] <= crits["HAR alone"]
    print(f"\nranges no worse on validation with the mix: {'yes: KEPT' if keep else 'no'}")
    print("\nthe product (mixed) on the test years, per year:")
    for s in ("ohlc", "panel"):
        br.per_year(s, years(br.with_q(runs["mixed"][s], iv.GAMMA), br.TEST, 2100))


def main() -> None:
    t0 = time.perf_counter()
    ohlc = load_ohlc()
    closes, _ = load_panel()
    jobs = [("ohlc", s, b) for s, b in sorted(ohlc.items())]
    jobs += [("panel", s, closes[s].dropna().to_frame("close")) for s in sorted(closes.columns)]
    print(
        f"OHLC set {len(ohlc)} series to 2013-02, panel {len(closes.columns)} stocks to "
        f"{closes.index[-1].date()}; validation {br.VAL[0]}-{br.VAL[1]} (both) and "
        f"1996-2006 (panel); test {br.TEST} on\n"
    )
    if "--mix" in sys.argv[1:]:
        mix_gate(jobs)
        print(f"\ntook {time.perf_counter() - t0:.0f} s")
        return
    before = walk(jobs, "har")

    print(
        "variance: pooled QLIKE gain over EWMA, validation (mean of 3 views); 'har' is the "
        "HAR before issue 33, each candidate adds one term to it"
    )
    ref = gains(before)
    kept_vol = []
    product = before
    for name in ("har", "product", *EXOG):
        data = before if name == "har" else walk(jobs, name)
        if name == "product":
            product = data
        g = gains(data)
        keep = name != "har" and g[1] > ref[1] and all(g[h] >= ref[h] for h in br.HORIZONS)
        label = {"product": "lev5", "lev5": "lev5 x"}.get(name, name)  # x: through exog
        if keep:
            kept_vol.append(label)
        verdict = "before" if name == "har" else ("KEPT" if keep else "rejected")
        print(
            f"{label:<6} validation "
            + " ".join(f"h{h} {100 * g[h]:+.2f}%" for h in br.HORIZONS)
            + f" -> {verdict} | test pooled: {test_gains(data)}",
            flush=True,
        )

    print(
        "\nranges (3- and 5-session calls widened by range_scale at weight c): the worst "
        "validation quarter chooses; test 95% h5, target: every quarter within 5 pp, a crash "
        f"quarter inside the oracle's {100 * ORACLE_95_BAND[0]:.1f}-"
        f"{100 * ORACLE_95_BAND[1]:.1f}%"
    )
    old, line = range_line("before", {s: ranged(d, 0.0, True) for s, d in before.items()})
    print(line + " (the HAR and ranges before issue 33)", flush=True)
    ref_r, line = range_line("c 0", {s: ranged(d, 0.0, True) for s, d in product.items()})
    print(line + " (HAR with lev5, issue 22's ranges)", flush=True)
    kept_range: list[tuple[float, str]] = []
    for both in (False, True):
        for c in RISE_C:
            name = f"rise {c:g}" + (" both" if both else "")
            runs = {s: ranged(d, c, both) for s, d in product.items()}
            crit, line = range_line(name, runs)
            if crit < ref_r:
                kept_range.append((crit, name))
            print(line + (" -> KEPT" if crit < ref_r else " -> rejected"), flush=True)
    best = min(kept_range)[1] if kept_range else "none (issue 22's ranges)"
    print(
        f"\nchosen on validation: variance terms {kept_vol or 'none'}; ranges: {best} "
        f"(the product: lev5 and weight {volatility.RISE_WEIGHT:g} on both levels)"
    )
    print("\nthe product on the test years, per year:")
    for s in ("ohlc", "panel"):
        br.per_year(s, years(br.with_q(product[s], iv.GAMMA), br.TEST, 2100))
    print(f"\ntook {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
