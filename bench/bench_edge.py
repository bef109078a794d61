"""Issue 12 "Forecasts worth watching": walk-forward benchmark on real public daily data.

Data (no network at run time once cached):
- OHLC set: AAPL, GOOG, IBM, MSFT (bokeh_sampledata stocks.csv.gz, OHLC scaled by
  Adj Close / Close so splits and dividends do not show up as returns) and the S&P 500 and
  NASDAQ composite indices (arch.data.sp500 / arch.data.nasdaq). Used for volatility and
  ranges. Fit from the start, VALIDATION 2007-2008, TEST 2009-01-01 .. 2013-03-01.
- Panel: 20 S&P 500 stocks, adjusted closes, and the S&P 500 index from skfolio's wheel
  (read with zipfile; skfolio itself is not installed). Used for volatility, ranges,
  direction and IC. Fit from 1990, VALIDATION 2011-2014, TEST 2015-01-01 .. 2022-12-28.

Protocol: every forecast for a session in year Y comes from models fitted on rows whose
target was known before the first session of Y (yearly walk-forward refits on all past
data, h-session purge). Choices (vol model per horizon, direction threshold) use only the
validation years' out-of-sample forecasts; the test years are scored once, never chosen on.

Run: python bench/bench_edge.py   (about 2.5 minutes on 2 cores; needs the bench extra)
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models import intervals as iv  # noqa: E402
from models import market_features as ctx  # noqa: E402
from models import selective as sel  # noqa: E402
from models import volatility as vol  # noqa: E402

HORIZONS = (1, 3, 5)
CACHE = Path.home() / ".cache" / "trading-assistant-bench"
OHLC_SPLIT = {"val": 2007, "test": 2009, "end": 2013}
PANEL_SPLIT = {"val": 2011, "test": 2015, "end": 2022}
CONFORMAL_WINDOW = 500
MIN_SYMBOL_CALLS = 250

# ---------------------------------------------------------------- data


def load_ohlc() -> dict[str, pd.DataFrame]:
    """Adjusted daily OHLC bars per symbol, lowercase columns, indexed by date."""
    import arch.data.nasdaq
    import arch.data.sp500
    import bokeh_sampledata

    path = Path(bokeh_sampledata.__file__).parent / "_data" / "stocks.csv.gz"
    raw = pd.read_csv(path, parse_dates=["Date"])
    out: dict[str, pd.DataFrame] = {}
    for sym in ("AAPL", "GOOG", "IBM", "MSFT"):
        d = raw[raw["Ticker"] == sym].set_index("Date").sort_index()
        f = d["Adj Close"] / d["Close"]
        out[sym] = pd.DataFrame({c.lower(): d[c] * f for c in ("Open", "High", "Low", "Close")})
    for name, mod in (("^GSPC", arch.data.sp500), ("^IXIC", arch.data.nasdaq)):
        d = mod.load().sort_index()
        d = d[d.index <= "2013-03-01"]
        out[name] = pd.DataFrame({c.lower(): d[c] for c in ("Open", "High", "Low", "Close")})
    return {k: v[(v > 0).all(axis=1)] for k, v in out.items()}


def load_panel() -> tuple[pd.DataFrame, pd.Series]:
    """Wide adjusted closes of 20 stocks and the S&P 500 index (skfolio datasets)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("skfolio-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "skfolio==1.12.2",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
        wheels = sorted(CACHE.glob("skfolio-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as z:

        def read(name: str) -> pd.DataFrame:
            data = z.read(f"skfolio/datasets/data/{name}.csv.gz")
            return pd.read_csv(
                io.BytesIO(data), compression="gzip", parse_dates=["Date"], index_col="Date"
            )

        closes, index = read("sp500_dataset"), read("sp500_index")
    return closes.sort_index(), index.iloc[:, 0].sort_index().reindex(closes.index).ffill()


# ---------------------------------------------------------------- walk-forward helpers


def _long(wide: pd.DataFrame, name: str) -> pd.Series:
    """A wide (date x symbol) frame as one long series named `name` (NaNs kept)."""
    return cast(pd.Series, wide.stack(future_stack=True)).rename(name)


def year_starts(index: pd.Index, first: int, last: int) -> list[tuple[int, int, int]]:
    """(year, first position, end position) of each year in [first, last] present in index."""
    years = pd.DatetimeIndex(index).year
    out = []
    for y in range(first, last + 1):
        pos = np.flatnonzero(years == y)
        if len(pos):
            out.append((y, int(pos[0]), int(pos[-1]) + 1))
    return out


def vol_candidates(
    bars: pd.DataFrame | pd.Series, first: int, last: int, use_range: bool
) -> dict[int, dict[str, pd.Series]]:
    """Walk-forward h-session variance forecasts of every candidate and baseline for one
    symbol, for sessions in years first..last (NaN elsewhere)."""
    close = bars["close"] if isinstance(bars, pd.DataFrame) else bars
    ret = vol.log_returns(close)
    rv_cc = vol.close_to_close_var(close)
    rv_rg = vol.daily_realized_var(bars) if use_range else None
    n = len(close)
    out: dict[int, dict[str, pd.Series]] = {}
    for h in HORIZONS:
        realized = vol.future_realized_var(close, h)
        out[h] = {
            "ewma": vol.ewma_variance(ret, h),
            "trail20": vol.trailing_variance(ret, h),
            **{
                k: pd.Series(np.nan, index=close.index)
                for k in ("har_cc", "har_range", "garch", "gjr")
                if use_range or k != "har_range"
            },
        }
        for _, a, b in year_starts(close.index, first, last):
            train = np.arange(n) <= a - 1 - h
            tr = train & realized.notna().to_numpy()
            out[h]["har_cc"].iloc[a:b] = vol.predict_har(
                vol.fit_har(rv_cc, realized, h, tr), rv_cc
            ).iloc[a:b]
            if rv_rg is not None:  # use_range
                m = vol.fit_har(rv_rg, realized, h, tr)
                out[h]["har_range"].iloc[a:b] = vol.predict_har(m, rv_rg).iloc[a:b]
    for _, a, b in year_starts(close.index, first, last):
        for name, gjr in (("garch", False), ("gjr", True)):
            if name == "gjr" and not use_range:
                continue
            fc = vol.garch_variances(ret, HORIZONS, train_end=close.index[a - 1], gjr=gjr)
            for h in HORIZONS:
                out[h][name].iloc[a:b] = fc[h].iloc[a:b]
    return out


def stack(
    per_sym: dict[str, dict[int, dict[str, pd.Series]]], closes: dict[str, pd.Series], h: int
) -> pd.DataFrame:
    """Long frame (date, symbol, realized, <forecasts>) for one horizon."""
    parts = []
    for s, by_h in per_sym.items():
        f = pd.DataFrame(by_h[h])
        f["realized"] = vol.future_realized_var(closes[s], h)
        logc = np.log(closes[s])
        f["ret_h"] = logc.shift(-h) - logc
        f["symbol"] = s
        f["known_at"] = pd.Series(closes[s].index, index=closes[s].index).shift(-h)
        parts.append(f.rename_axis("date").reset_index())
    return pd.concat(parts, ignore_index=True)


def vol_study(
    name: str,
    bars: Mapping[str, pd.DataFrame | pd.Series],
    split: dict[str, int],
    use_range: bool,
    rows: list[tuple],
    mu: dict[int, pd.DataFrame] | None = None,
) -> None:
    """Choose the vol model per horizon on validation, score it and the ranges on test."""
    closes = {s: (b["close"] if isinstance(b, pd.DataFrame) else b) for s, b in bars.items()}
    res = Parallel(n_jobs=2)(
        delayed(vol_candidates)(b, split["val"], split["end"], use_range) for b in bars.values()
    )
    per_sym = dict(zip(bars, res, strict=True))
    for h in HORIZONS:
        df = stack(per_sym, closes, h)
        df = df[df["date"].dt.year >= split["val"]].dropna(subset=["realized", "ewma"])
        val = (df["date"].dt.year < split["test"]).to_numpy()
        test = ~val
        models = [c for c in ("har_cc", "har_range", "garch", "gjr") if c in df]
        best, _ = vol.select_by_qlike({m: df[m] for m in models}, df["realized"], val)
        q = {
            m: vol.mean_qlike(df["realized"][test], df[m][test]) for m in [best, "ewma", "trail20"]
        }
        n = int(test.sum())
        for base in ("ewma", "trail20"):
            gain = 1 - q[best] / q[base]
            rows.append(
                (
                    f"{name} vol h{h}: QLIKE {best} vs {base}",
                    f"{q[best]:.3f} vs {q[base]:.3f} ({gain:+.1%})",
                    ">= 5% better",
                    gain >= 0.05,
                    n,
                )
            )
        ranges_study(name, df, best, h, val, test, rows, None if mu is None else mu[h])


def ranges_study(
    name: str,
    df: pd.DataFrame,
    best: str,
    h: int,
    val: np.ndarray,
    test: np.ndarray,
    rows: list[tuple],
    mu: pd.DataFrame | None,
) -> None:
    """80/95% ranges mu ± q sigma with causal per-symbol conformal q (pool warmed on val)."""
    df = df.copy()
    if mu is None:
        df["mu"] = 0.0
    else:
        m = _long(mu, "mu").rename_axis(["date", "symbol"])
        df = df.join(m, on=["date", "symbol"])
        df["mu"] = df["mu"].fillna(0.0)
    df["sigma"] = np.sqrt(df[best])
    df["r"] = df["ret_h"]
    df["score"] = iv.standardized_residual(df["r"], df["mu"], df["sigma"])
    t = df[test]
    for level in iv.LEVELS:
        q = iv.causal_conformal_q(df, level, window=CONFORMAL_WINDOW)
        lo, hi = iv.interval(df["mu"], df["sigma"], q)
        cov = iv.coverage(t["r"], lo[test], hi[test])
        zlo, zhi = iv.interval(t["mu"], t["sigma"], iv.gaussian_z(level))
        gcov = iv.coverage(t["r"], zlo, zhi)
        rows.append(
            (
                f"{name} range {level:.0%} h{h} pooled coverage",
                f"{cov:.3f} (gauss {gcov:.3f})",
                f"{level:.2f}±0.02",
                abs(cov - level) <= 0.02,
                len(t),
            )
        )
        worst, worst_sym, n_sym = 0.0, "", 0
        for s, g in t.groupby("symbol"):
            if len(g) < MIN_SYMBOL_CALLS:
                continue
            n_sym += 1
            idx = g.index.to_numpy()
            pos = np.flatnonzero(np.isin(df.index.to_numpy(), idx))
            c = iv.coverage(g["r"], lo[pos], hi[pos])
            if abs(c - level) >= abs(worst - level) or not worst_sym:
                worst, worst_sym = c, str(s)
        rows.append(
            (
                f"{name} range {level:.0%} h{h} worst symbol ({n_sym} syms)",
                f"{worst:.3f} {worst_sym}",
                f"{level:.2f}±0.05",
                abs(worst - level) <= 0.05,
                n_sym,
            )
        )


# ---------------------------------------------------------------- direction and IC


def panel_features(closes: pd.DataFrame, index: pd.Series) -> pd.DataFrame:
    """Long (date, symbol) features known at t: vol-scaled own returns, context, own vol."""
    lr = ctx.panel_log_returns(closes)
    sd = cast(pd.DataFrame, np.sqrt((lr**2).rolling(60, min_periods=40).mean())).clip(lower=1e-4)
    own = {f"own_{w}": ctx.trailing_sum(lr, w) / (sd * np.sqrt(w)) for w in (1, 5, 20, 60)}
    own["log_vol"] = np.log(sd)
    feats = pd.concat({k: v.stack(future_stack=True) for k, v in own.items()}, axis=1)
    feats.index.names = ["date", "symbol"]
    context = ctx.build(closes, index)
    feats = feats.join(context, how="inner")
    for w in (1, 5, 20):
        feats[f"rel_ret_{w}"] = feats[f"rel_ret_{w}"] / (feats["log_vol"].pipe(np.exp) * np.sqrt(w))
    feats["sd"] = np.exp(feats["log_vol"])
    return feats


def direction_and_ic(
    closes: pd.DataFrame, index: pd.Series, rows: list[tuple]
) -> dict[int, pd.DataFrame]:
    """Ridge on the market-relative vol-scaled h-return (IC) and logistic on the raw h-return
    sign (direction), refitted yearly on all past rows; threshold chosen on validation.
    Returns the expected h-return per (date, symbol) for the ranges (mu)."""
    feats = panel_features(closes, index)
    xcols = [c for c in feats.columns if c != "sd"]
    dates = closes.index
    mus: dict[int, pd.DataFrame] = {}
    for h in HORIZONS:
        fwd = _long(ctx.forward_returns(closes, h), "fwd")
        rel = _long(ctx.market_relative_target(closes, h, index), "rel")
        fwd.index.names = rel.index.names = ["date", "symbol"]
        d = feats.join(fwd).join(rel).dropna(subset=xcols)
        d = d.reset_index()
        dpos = dates.get_indexer(pd.Index(d["date"]))
        d["exp_rel"], d["p_up"] = np.nan, np.nan
        d["exp_ret"] = np.nan
        for _, a, b in year_starts(dates, PANEL_SPLIT["val"], PANEL_SPLIT["end"]):
            tr = (dpos <= a - 1 - h) & d["fwd"].notna().to_numpy() & (dpos >= 60)
            te = (dpos >= a) & (dpos < b)
            x_tr, x_te = d.loc[tr, xcols].to_numpy(), d.loc[te, xcols].to_numpy()
            scale = d.loc[tr, "sd"].to_numpy() * np.sqrt(h)
            ridge = Ridge(alpha=1000.0).fit(x_tr, np.clip(d.loc[tr, "rel"] / scale, -5, 5))
            d.loc[te, "exp_rel"] = ridge.predict(x_te) * d.loc[te, "sd"].to_numpy() * np.sqrt(h)
            ridge_raw = Ridge(alpha=1000.0).fit(x_tr, np.clip(d.loc[tr, "fwd"] / scale, -5, 5))
            d.loc[te, "exp_ret"] = ridge_raw.predict(x_te) * d.loc[te, "sd"].to_numpy() * np.sqrt(h)
            logit = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=300))
            logit.fit(x_tr, d.loc[tr, "fwd"] > 0)
            d.loc[te, "p_up"] = logit.predict_proba(x_te)[:, 1]
        d = d[d["exp_rel"].notna() & d["fwd"].notna()]
        d["maj_up"] = False
        for _, g in d.groupby("symbol"):
            d.loc[g.index, "maj_up"] = sel.causal_majority_up(g["fwd"], g["date"], h)
        val = (d["date"].dt.year < PANEL_SPLIT["test"]).to_numpy()
        test = ~val
        mus[h] = d.pivot(index="date", columns="symbol", values="exp_ret")
        t = d[test]
        ic = sel.information_coefficient(
            t.rename(columns={"exp_rel": "expected", "fwd": "realized"}), h=h
        )
        rows.append(
            (
                f"panel IC h{h} (market-relative score vs raw return)",
                f"{ic['mean']:+.4f} t={ic['t']:.2f}",
                ">= 0.02, t >= 2",
                ic["mean"] >= 0.02 and ic["t"] >= 2,
                ic["n_days"],
            )
        )
        score = d["p_up"].to_numpy() - 0.5
        thr = sel.choose_threshold(
            score[val], d["fwd"].to_numpy()[val], majority_up_val=d["maj_up"].to_numpy()[val]
        )
        calls = sel.apply_threshold(score[test], thr)
        rep = sel.selective_report(calls, t["fwd"], t["maj_up"], dates=t["date"].to_numpy(), h=h)
        if rep["n"]:
            value = (
                f"hit {rep['hit_rate']:.3f} vs {rep['baseline']:.3f} "
                f"p={rep['p_value']:.2g} cov {rep['coverage']:.2f}"
            )
            hit, base, p = rep["hit_rate"], rep["baseline"], rep["p_value"]
            ok = (
                hit is not None
                and base is not None
                and p is not None
                and hit >= base + 0.02
                and p < 0.05
            )
        else:
            value, ok = "abstains on all (no val threshold)", False
        rows.append((f"panel direction h{h} selective", value, "base+0.02, p<0.05", ok, rep["n"]))
    return mus


# ---------------------------------------------------------------- main


def main() -> None:
    start = time.perf_counter()
    rows: list[tuple] = []
    ohlc = load_ohlc()
    closes, index = load_panel()
    print(
        f"OHLC set: {', '.join(ohlc)}; val {OHLC_SPLIT['val']}-{OHLC_SPLIT['test'] - 1}, "
        f"test {OHLC_SPLIT['test']}-01-01..2013-03-01"
    )
    print(
        f"panel: {closes.shape[1]} stocks {closes.index[0].date()}..{closes.index[-1].date()}; "
        f"val {PANEL_SPLIT['val']}-{PANEL_SPLIT['test'] - 1}, "
        f"test {PANEL_SPLIT['test']}-01-01..{closes.index[-1].date()}"
    )
    mus = direction_and_ic(closes, index, rows)
    vol_study("ohlc", ohlc, OHLC_SPLIT, True, rows)
    vol_study("panel", {str(s): closes[s].dropna() for s in closes}, PANEL_SPLIT, False, rows, mus)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'value':<44} {'target':<18} {'result':<6} n")
    for fig, value, target, ok, n in rows:
        print(f"{fig:<{width}}  {value:<44} {target:<18} {'PASS' if ok else 'FAIL':<6} {n}")
    print(f"\ntook {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
