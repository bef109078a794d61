"""The product's own ranges and volatility forecasts, walk-forward through 2008 and 2020.

What runs is the backtest's code, which is the cycle's: `models.volatility.forecast_walk`
(the forecast `forecast_at_end` gives on the ~550 sessions a cycle loads, for every session)
and `models.intervals.adaptive_q` (the adaptive conformal state a cycle replays from its
verified ledger, fed as outcomes mature). The expected return is zero, so the ranges
measure the volatility side alone.

Data (public, no network once cached):
- OHLC set: AAPL, GOOG, IBM, MSFT (bokeh_sampledata, split-adjusted) and the S&P 500 and
  NASDAQ composite (arch.data), through 2013-02.
- Panel: 20 S&P 500 stocks' adjusted closes from skfolio's wheel (close-to-close only),
  through 2022-12. The first 10 of them (alphabetical) by default, to stay near 3 minutes
  on 2 loaded cores; `--symbols 20` runs all (about 6 minutes).

Protocol: forecasts and residual states run from each series' start. VALIDATION years
2003-2006 choose the ACI step size (the value of `models.intervals.GAMMA`): the one whose
worst quarterly coverage error over both sets, both levels and every horizon is smallest.
The same years chose the variance model's extra HAR terms (jump, leverage, EWMA: worst
validation year's QLIKE gain vs EWMA, mean over sets and horizons, -2.9% against -4.1% for
the plain HAR) and a per-session level shared by the symbols over one per symbol (worst
validation quarter 4.6 pp against 4.8 pp), and the floor on the HAR's log target
(`models.volatility.TARGET_FLOOR`, the same QLIKE criterion: 0 -> -2.41%, 0.01 -> -2.24%,
0.1 -> -2.14%, 0.25 -> -2.20%). Rejected on the same years: feeding the 1-session misses into
the 3- and 5-session levels (worst validation quarter 5.2 pp at weight 0.02, 5.7 pp at
0.05, against 4.6 pp), and fits on 1600 or 3000 calendar days of history instead of 800.
Issue 33 added, on the same validation years and the panel's 1996-2006
(bench_ranges_storm.py): a week's leverage term in the HAR (lev5) and ranges at 3 and 5
sessions drawn with sigma x volatility.range_scale (wider while the forecast rises); the
figures below include both.
TEST is 2007-01-01 onward: every figure printed is on test calls, which nothing was chosen on.

Targets (issue 22): pooled 80% / 95% coverage within +-5 pp of nominal in EVERY calendar
quarter (incl. 2008Q4 and 2020Q1) and within +-2 pp over the whole test; QLIKE at least
5% better than EWMA (lambda 0.94) at every horizon in every calendar year. Luck alone breaks
these on panels this size (bench_ranges_oracle.py), so each set's shares are also printed
next to those of a forecaster that knows the true variance, on simulated panels of its size.

Run: python bench/bench_ranges.py [--symbols N]   (about 3 minutes on 2 loaded cores)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ranges_oracle  # noqa: E402
from bench_edge import load_ohlc, load_panel  # noqa: E402

from models import intervals, volatility  # noqa: E402

HORIZONS = (1, 3, 5)
FIRST = "2001-01-01"  # first call: states warm over 2001-2002
VAL = (2003, 2006)  # validation years: the step size is chosen here only
TEST = 2007  # test from 2007-01-01 to each set's end
GAMMAS = (0.0, 0.02, 0.05, 0.1)  # 0 = a fixed (non-adaptive) conformal multiplier
QUARTER_TOL, WHOLE_TOL, QLIKE_GAIN = 0.05, 0.02, 0.05


def calls(
    symbol: str, bars: pd.DataFrame, exog: dict[int, np.ndarray] | None = None
) -> pd.DataFrame:
    """One row per (call date, h) from FIRST on: the variance forecast, EWMA, the h-session
    log return and realized variance, and when the outcome became known. `exog`: per
    horizon, extra regressors of the variance forecast, one row per bar (forecast_walk's)."""
    index = pd.DatetimeIndex(bars.index)
    days = index[index >= pd.Timestamp(FIRST)]
    starts = index.searchsorted(days - pd.Timedelta(days=volatility.HISTORY_DAYS))
    ends = index.searchsorted(days, side="right") - 1
    # each call's forecast, and the one from the same bars less the last RISE_SESSIONS (the
    # ranges widen by volatility.range_scale while the forecast rises)
    later = ends - volatility.RISE_SESSIONS
    ok = later >= starts
    walk, then = {}, {}
    for hs in [HORIZONS] if exog is None else [(h,) for h in HORIZONS]:
        x = None if exog is None else exog[hs[0]]
        now = volatility.forecast_walk(bars, starts, ends, hs, exog=x)
        before = volatility.forecast_walk(bars, starts[ok], later[ok], hs, exog=x)
        for h in hs:
            walk[h] = now[h]
            then[h] = np.full(len(ends), np.nan)
            then[h][ok] = before[h][0]
    logc = np.log(bars["close"].to_numpy(float))
    daily = volatility.daily_realized_var(bars)  # overnight^2 + Garman-Klass where OHLC exists
    parts = []
    for h in HORIZONS:
        var, ewma, _ = walk[h]
        end = ends + h
        ok = end < len(index)
        ret = np.full(len(days), np.nan)
        ret[ok] = logc[end[ok]] - logc[ends[ok]]
        rv = volatility.future_realized_var(bars["close"], h).to_numpy(float)[ends]
        proxy = daily.rolling(h, min_periods=h).sum().shift(-h).to_numpy(float)[ends]
        known = pd.Series(pd.NaT, index=range(len(days)), dtype="datetime64[ns]")
        known[ok] = index[end[ok]]
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "date": days,
                    "known": known.to_numpy(),
                    "h": h,
                    "var": var,
                    "var_then": then[h],
                    "ewma": ewma,
                    "ret": ret,
                    "realized": rv,
                    "proxy": proxy,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def with_q(df: pd.DataFrame, gamma: float) -> pd.DataFrame:
    """q80/q95 per call from outcomes known by its date (one adaptive state per set and h)."""
    out = df.copy()
    out["sigma"] = np.sqrt(out["var"]) * range_scale(out)
    out["score"] = intervals.standardized_residual(out["ret"], 0.0, out["sigma"])
    for _, g in out.groupby("h"):
        q = intervals.adaptive_q(
            g["date"].to_numpy(), g["known"].to_numpy(), g["symbol"].to_numpy(),
            g["score"].to_numpy(), gamma,
        )  # fmt: skip
        out.loc[g.index, "q80"], out.loc[g.index, "q95"] = q[0], q[1]
    sigma = out["sigma"]
    for level in (80, 95):
        out[f"in{level}"] = np.where(
            out["ret"].notna(), (out["ret"].abs() <= out[f"q{level}"] * sigma).astype(float), np.nan
        )
        out[f"width{level}"] = 2 * out[f"q{level}"] * sigma
    return out


def range_scale(df: pd.DataFrame, weight: float = volatility.RISE_WEIGHT) -> np.ndarray:
    """Per call, volatility.range_scale (the product's widening of its ranges)."""
    out = np.ones(len(df))
    for h in HORIZONS:
        rows = (df["h"] == h).to_numpy()
        out[rows] = volatility.range_scale(
            df["var"].to_numpy(float)[rows], df["var_then"].to_numpy(float)[rows], h, weight
        )
    return out


def quarterly(df: pd.DataFrame) -> pd.DataFrame:
    """Pooled coverage per (h, calendar quarter) of scored calls."""
    d = df[df["ret"].notna()]
    q = d["date"].dt.to_period("Q").astype(str)
    return d.groupby(["h", q]).agg(
        n=("in80", "size"), cov80=("in80", "mean"), cov95=("in95", "mean")
    )


def worst_error(df: pd.DataFrame) -> float:
    """Largest |quarterly coverage - nominal| over horizons and levels."""
    t = quarterly(df)
    return float(max((t["cov80"] - 0.80).abs().max(), (t["cov95"] - 0.95).abs().max()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--symbols", type=int, default=10, help="panel stocks to use (of 20; 10 keeps it ~3 min)"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    ohlc = load_ohlc()
    closes, _ = load_panel()
    panel_syms = sorted(closes.columns)[: args.symbols]
    jobs = [("ohlc", s, b) for s, b in sorted(ohlc.items())]
    jobs += [("panel", s, closes[s].dropna().to_frame("close")) for s in panel_syms]
    parts = Parallel(n_jobs=2)(delayed(calls)(s, b) for _, s, b in jobs)
    sets: dict[str, list[pd.DataFrame]] = {}
    for (name, _, _), part in zip(jobs, parts, strict=True):
        sets.setdefault(name, []).append(part)
    data = {k: pd.concat(v, ignore_index=True) for k, v in sets.items()}
    name_symbols = {"ohlc": len(ohlc), "panel": len(panel_syms)}

    # --- choose the step size on validation years only
    keys = [(name, g) for name in data for g in GAMMAS]
    jobs_q = Parallel(n_jobs=2)(delayed(with_q)(data[n], g) for n, g in keys)
    runs = dict(zip(keys, jobs_q, strict=True))
    val_err = {}
    for g in GAMMAS:
        errs = []
        for name in data:
            years = runs[(name, g)]["date"].dt.year
            errs.append(worst_error(runs[(name, g)][(years >= VAL[0]) & (years <= VAL[1])]))
        val_err[g] = max(errs)
    chosen = min(GAMMAS, key=lambda g: (val_err[g], g))
    gamma = intervals.GAMMA  # the test measures the product's step, whatever this run chooses
    if gamma not in GAMMAS:
        raise SystemExit(f"models.intervals.GAMMA {gamma} is not among the steps {GAMMAS}")
    print(
        f"OHLC set: {', '.join(sorted(ohlc))} (to 2013-02); panel: {len(panel_syms)} of 20 "
        f"skfolio stocks, close-to-close (to {closes.index[-1].date()})"
    )
    print(
        f"step size chosen on validation {VAL[0]}-{VAL[1]} (worst quarterly coverage error): "
        + ", ".join(f"{g}: {100 * e:.1f} pp" for g, e in val_err.items())
        + f" -> gamma {chosen} (models.intervals.GAMMA = {intervals.GAMMA}, chosen on the "
        "default run's 10 panel stocks; the figures below use it)"
    )
    if chosen != gamma:
        print(
            f"note: on this run's validation data the step would be {chosen}, not the "
            f"product's {gamma}: the choice is that close"
        )
    print(
        f"variance model: HAR with jump, leverage and EWMA terms, chosen on {VAL[0]}-{VAL[1]} "
        "(worst validation year's QLIKE gain vs EWMA, mean over sets and horizons: "
        "-2.9% vs -4.1% plain HAR), its log target floored at "
        f"{volatility.TARGET_FLOOR:g} x the monthly mean (-2.14% vs -2.41% unfloored); one "
        "shared ACI level per horizon moved once per session, chosen on the same years "
        "(4.6 vs 4.8 pp for one level per symbol); issue 33: a week's leverage term and "
        f"3-/5-session ranges widened by range_scale (weight {volatility.RISE_WEIGHT:g}) while "
        "the forecast rises (bench_ranges_storm.py)"
    )
    print(f"test: calls from {TEST}-01-01; nothing below was chosen on these years\n")

    rows: list[tuple[str, str, str, bool]] = []
    for name in data:
        for label, g in (("adaptive", gamma), ("fixed (gamma 0)", 0.0)):
            scored = runs[(name, g)]
            test = scored[scored["date"].dt.year >= TEST]
            coverage_rows(f"{name} {label}", test, rows)
        vol_rows(name, test, rows)
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':<40} {'target':<16} result")
    for fig, value, target, ok in rows:
        print(f"{fig:<{width}}  {value:<40} {target:<16} {'PASS' if ok else 'FAIL'}")
    for name in data:
        test = runs[(name, gamma)][runs[(name, gamma)]["date"].dt.year >= TEST]
        per_year(name, test)
    print(
        "\nthe same targets for a forecaster that knows the true variance (calibrated by "
        "construction; bench_ranges_oracle.py, simulated panels of these sizes):"
    )
    for name in data:
        test = runs[(name, gamma)][runs[(name, gamma)]["date"].dt.year >= TEST]
        oracle_lines(name, test, name_symbols[name])
    print(f"\ntook {time.perf_counter() - t0:.0f} s")


def coverage_rows(name: str, test: pd.DataFrame, rows: list[tuple[str, str, str, bool]]) -> None:
    """Whole-test coverage, each quarter's worst, and 2008Q4 / 2020Q1 per horizon and level."""
    t = quarterly(test)
    for h in HORIZONS:
        d = test[(test["h"] == h) & test["ret"].notna()]
        th = t.loc[h]
        for level in (80, 95):
            nominal = level / 100
            cov = d[f"in{level}"].mean()
            rows.append(
                (
                    f"{name} {level}% h{h} whole test",
                    f"{cov:.3f} (n {len(d)})",
                    f"{nominal:.2f}±{WHOLE_TOL:.2f}",
                    abs(cov - nominal) <= WHOLE_TOL,
                )
            )
            err = (th[f"cov{level}"] - nominal).abs()
            bad = err[err > QUARTER_TOL]
            worst = err.idxmax()
            rows.append(
                (
                    f"{name} {level}% h{h} quarters within ±5pp",
                    f"{len(err) - len(bad)}/{len(err)}; worst {worst} "
                    f"{th.at[worst, f'cov{level}']:.3f}",
                    "all",
                    bad.empty,
                )
            )
            for quarter in ("2008Q4", "2020Q1"):
                if quarter in th.index:
                    c = float(th[f"cov{level}"][quarter])
                    rows.append(
                        (
                            f"{name} {level}% h{h} {quarter}",
                            f"{c:.3f} (n {int(th['n'][quarter])})",
                            f"{nominal:.2f}±{QUARTER_TOL:.2f}",
                            abs(c - nominal) <= QUARTER_TOL,
                        )
                    )


def per_year(name: str, test: pd.DataFrame) -> None:
    """Each figure against its target, per calendar year and horizon, then over the whole
    span: 80% / 95% coverage (nominal +-WHOLE_TOL), the year's worst quarter (+-QUARTER_TOL)
    and the pooled QLIKE gain over EWMA (>= QLIKE_GAIN). `test` holds scored calls (in80,
    in95, var, ewma, realized)."""

    def mark(ok: bool) -> str:
        return " " if ok else "*"

    print(
        f"\n{name}: per year (* = misses its target: coverage {100 * WHOLE_TOL:.0f} pp of "
        f"nominal, worst quarter {100 * QUARTER_TOL:.0f} pp, QLIKE >= {100 * QLIKE_GAIN:.0f}% "
        "better than EWMA)"
    )
    print(
        f"{'year':<6}"
        + "".join(f"| h{h} cov80  cov95  worstQ80 worstQ95  QLIKE   " for h in HORIZONS)
    )
    d = test[test["ret"].notna()]
    years = sorted(d["date"].dt.year.unique())
    for label, part in [(str(y), d[d["date"].dt.year == y]) for y in years] + [("all", d)]:
        line = f"{label:<6}"
        for h in HORIZONS:
            g = part[part["h"] == h]
            if g.empty:
                line += "| " + " " * 44
                continue
            c80, c95 = g["in80"].mean(), g["in95"].mean()
            qtr = g.groupby(g["date"].dt.to_period("Q"))[["in80", "in95"]].mean()
            w80 = float((qtr["in80"] - 0.80).abs().max())
            w95 = float((qtr["in95"] - 0.95).abs().max())
            v = g[g["realized"].notna() & g["ewma"].notna()]
            gain = 1 - volatility.mean_qlike(v["realized"], v["var"]) / volatility.mean_qlike(
                v["realized"], v["ewma"]
            )
            line += (
                f"| {100 * c80:5.1f}{mark(abs(c80 - 0.80) <= WHOLE_TOL)}"
                f"{100 * c95:5.1f}{mark(abs(c95 - 0.95) <= WHOLE_TOL)}"
                f" {100 * w80:4.1f}pp{mark(w80 <= QUARTER_TOL)}"
                f"  {100 * w95:4.1f}pp{mark(w95 <= QUARTER_TOL)}"
                f" {100 * gain:+5.1f}%{mark(gain >= QLIKE_GAIN)} "
            )
        print(line)


def oracle_lines(name: str, test: pd.DataFrame, symbols: int) -> None:
    """The product's share of quarters inside +-5 pp and of years >= 5% better than EWMA,
    next to the oracle's on simulated panels of the same size and length."""
    t = quarterly(test)
    years = test["date"].dt.year.nunique()
    o = bench_ranges_oracle.oracle(symbols, years)
    for h in HORIZONS:
        th = t.loc[h]
        parts = []
        for level in intervals.LEVELS:
            err = (th[f"cov{round(100 * level)}"] - level).abs()
            parts.append(
                f"{100 * level:.0f}% quarters inside {int((err <= QUARTER_TOL).sum())}/{len(err)}"
                f" ({100 * (err <= QUARTER_TOL).mean():.0f}%; worst {100 * err.max():.1f} pp), "
                f"oracle {100 * o.within[(h, level)]:.0f}% (median worst "
                f"{o.median_worst[(h, level)]:.1f} pp; all inside in "
                f"{100 * o.all_inside[(h, level)]:.0f}% of panels)"
            )
        d = test[(test["h"] == h) & test["realized"].notna() & test["ewma"].notna()]
        gains = [
            1
            - volatility.mean_qlike(g["realized"], g["var"])
            / volatility.mean_qlike(g["realized"], g["ewma"])
            for _, g in d.groupby(d["date"].dt.year)
        ]
        ok = sum(x >= QLIKE_GAIN for x in gains)
        print(
            f"{name} h{h}: " + "; ".join(parts) + f"; years QLIKE >= 5% better than EWMA "
            f"{ok}/{len(gains)}, oracle {100 * o.years_ok[h]:.0f}% of years"
        )


def vol_rows(name: str, test: pd.DataFrame, rows: list[tuple[str, str, str, bool]]) -> None:
    """QLIKE of the variance forecast against EWMA per calendar year and horizon."""
    for h in HORIZONS:
        d = test[(test["h"] == h) & test["realized"].notna() & test["ewma"].notna()]
        for year, g in d.groupby(d["date"].dt.year):
            q = volatility.mean_qlike(g["realized"], g["var"])
            e = volatility.mean_qlike(g["realized"], g["ewma"])
            gain = 1 - q / e
            rows.append(
                (
                    f"{name} vol h{h} {year} QLIKE vs EWMA",
                    f"{q:.3f} vs {e:.3f} ({100 * gain:+.1f}%)",
                    f">= {100 * QLIKE_GAIN:.0f}% better",
                    gain >= QLIKE_GAIN,
                )
            )
        if name == "ohlc":
            # Informational, no target: the same forecasts scored against the range-based
            # proxy (overnight^2 + Garman-Klass), far less noisy than a squared return.
            # QLIKE ranks forecasts alike under any (near-)unbiased proxy (Patton 2011);
            # the noise compresses the gaps, which keeps h = 1 under 5% on squared returns.
            by_year = {
                year: 1
                - volatility.mean_qlike(g["proxy"], g["var"])
                / volatility.mean_qlike(g["proxy"], g["ewma"])
                for year, g in d[d["proxy"].notna()].groupby(d["date"].dt.year)
            }
            print(
                f"{name} vol h{h}: QLIKE gain vs EWMA per test year, scored on the range-based "
                "proxy (informational): "
                + ", ".join(f"{year} {100 * x:+.1f}%" for year, x in by_year.items())
            )


if __name__ == "__main__":
    main()
