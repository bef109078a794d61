"""Issue 33, one session: can the variance forecast beat EWMA by 5% QLIKE at h = 1?

Each candidate changes the product's HAR (models.volatility, with lev5) in ONE way and runs
the cycle's own walk (`volatility.forecast_walk`: the forecast `forecast_at_end` gives on
the bars a cycle loads, at every session). Scored only on the variance: pooled QLIKE gain
over EWMA (lambda 0.94) against the realized close-to-close variance over t+1..t+h.

Data (public, offline once cached; bench_edge's loaders): the OHLC set (AAPL, GOOG, IBM,
MSFT from bokeh_sampledata, S&P 500 and NASDAQ from arch; to 2013-02) walked from 2001, and
skfolio's 20 stocks (close only, to 2022-12) walked from 1993.

Protocol, fixed before any run (bench_ranges_storm.py's variance rule):
- VALIDATION: 2003-2006 on both sets and the panel's 1996-2006; the criterion is the pooled
  gain over EWMA, mean of the three views. A candidate is KEPT by validation only if it
  raises h = 1 over the product and lowers no horizon; the best h = 1 of those is chosen.
- TEST: 2007 on, printed for every candidate (pooled, per year), chosen on none. The
  issue's bar: the chosen candidate enters the product only if its pooled test gain is
  >= 5% at h = 1 on both sets, h = 3 / h = 5 no worse, and the ranges no worse.
- The VIX is measured apart (`--vix`): the public VIX (arch.data.vix) covers 2014-01 to
  2019-01, so it is validated on the panel's 2014-07..2015 and tested on 2016-2018.

Candidates (each one term or one change on top of the product's HAR):
- ``gap``: log(max(g^2, 0.01 m) / m), g = ln(O_t / C_{t-1}) the overnight gap, m the
  monthly mean daily proxy (OHLC only; close-only bars keep the product);
- ``gjr``: 1{r_t < 0} x log(max(r_t^2, 0.01 m) / m): a GJR-like asymmetric squared shock;
- ``pk``: the daily proxy overnight^2 + Parkinson instead of overnight^2 + Garman-Klass;
- ``rs``: overnight^2 + Rogers-Satchell instead (both OHLC only);
- ``blend``: overnight^2 + the mean of Parkinson and Garman-Klass (OHLC only; added after
  the first run showed the others, because the issue names a blend: the 9th candidate);
- ``absr``: log((pi/2) mean|r|^2) over 5 and over 22 sessions, two columns (absolute
  returns, robust to one large day: Forsberg and Ghysels 2007);
- ``mkt``: log of the market's RiskMetrics variance (finite memory, as the HAR's own
  log_ewma): the S&P 500 index for the panel (skfolio) and for the OHLC set's stocks and
  ^IXIC (arch's ^GSPC); ^GSPC itself keeps the product;
- ``h5/5``: the h = 1 forecast is the h = 5 forecast / 5 (a smoother fitted target);
- ``vix`` (apart, see above): log VIX-implied variance through forecast_walk's exog, as the
  cycle and the backtest pass it where ^VIX is stored.
That is 9 candidates against the product (8 on the main protocol, 1 on the VIX years).

Round 2 (`--round 2`; the brief of issue 33's third pass: estimation and combination), the
same data, views and protocol; four more candidates, each one change through forecast_walk:
- ``ql``: the HAR's coefficients minimise QLIKE against the scoring target (the
  close-to-close realized variance over t+1..t+h) instead of least squares on the log
  proxy: a Gamma GLM with log link (convex), damped Newton from the OLS fit; the product's
  QLIKE-optimal scale then (1 at the optimum: the intercept already sets the level);
- ``ql-rv``: the same QLIKE fit against the range proxy's mean over t+1..t+h (the OLS
  target, unlogged; less noisy), then the product's scale onto close-to-close;
- ``mix``: w x HAR + (1 - w) x EWMA, w in 0, 0.05, .., 1 minimising QLIKE on each
  window's own training rows (the HAR's in-sample forecasts there);
- ``mix-v``: the same mix with ONE w per horizon, the grid's best validation criterion.
Rule, stated before the run: a round-2 candidate enters the product only if validation
keeps it (h = 1 rises over the product, no horizon falls) and then its ranges are no worse
on validation (bench_ranges_storm.py's criterion); of several, the best validation h = 1.
The test years are printed and choose nothing. Round 1's nine are not re-opened.
Also printed, never candidates: the product's level out of sample (mean realized /
forecast, and the gain with the period's own best constant), the OHLC set's CEILING: the
range proxy of the scored sessions themselves (look-ahead) as the "forecast", and CEILING 2:
the product's design with coefficients fitted on the test years themselves.

Run: python bench/bench_qlike.py [--vix | --round 1 | --round 2] [--rows FILE.pkl]
(all: about 35 minutes on 2 loaded cores; --round 2 about 19; --vix 2; --rows keeps the
walked rows and reports from them on a second run)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edge import load_ohlc, load_panel  # noqa: E402

from models import vix, volatility  # noqa: E402

HORIZONS = (1, 3, 5)
FIRST = {"ohlc": "2001-01-01", "panel": "1993-01-01"}
VAL = (2003, 2006)
VAL_LONG = (1996, 2006)
TEST = 2007
TARGET = 0.05
CANDIDATES = ("product", "gap", "gjr", "pk", "rs", "absr", "mkt", "h5/5", "blend")
# the second round (estimation and combination; `--round 2` walks only these and the product)
ROUND2 = ("product", "ql", "ql-rv", "mix")
MIX_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)  # HAR weight of the mixes, 0..1 by 0.05
VIX_VAL = ("2014-07-01", "2015-12-31")
VIX_TEST = ("2016-01-01", "2018-12-31")


def _ratio_log(x: np.ndarray, month: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.maximum(x, 0.01 * month) / month)


def _ohlc_logs(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(np.log(bars[c].to_numpy(float)) for c in ("open", "high", "low", "close"))


def _proxy_rv(kind: str, bars: pd.DataFrame, logc: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """volatility._daily_rv with Parkinson ("pk") or Rogers-Satchell ("rs") for Garman-Klass."""
    if not {"open", "high", "low"} <= set(bars.columns):
        return r2
    o, hi, lo, c = _ohlc_logs(bars)
    pk = (hi - lo) ** 2 / (4.0 * np.log(2.0))
    if kind == "pk":
        day = pk
    elif kind == "blend":
        gk = 0.5 * (hi - lo) ** 2 - (2.0 * np.log(2.0) - 1.0) * (c - o) ** 2
        day = 0.5 * (pk + np.clip(gk, 0.0, None))
    else:
        day = np.clip((hi - c) * (hi - o) + (lo - c) * (lo - o), 0.0, None)
    out = (o - np.r_[np.nan, logc[:-1]]) ** 2 + day
    return np.where(np.isfinite(out), out, r2)


def _parkinson_rv(bars: pd.DataFrame, logc: np.ndarray, r2: np.ndarray) -> np.ndarray:
    return _proxy_rv("pk", bars, logc, r2)


def _rogers_satchell_rv(bars: pd.DataFrame, logc: np.ndarray, r2: np.ndarray) -> np.ndarray:
    return _proxy_rv("rs", bars, logc, r2)


def _blend_rv(bars: pd.DataFrame, logc: np.ndarray, r2: np.ndarray) -> np.ndarray:
    return _proxy_rv("blend", bars, logc, r2)


def _extra(name: str, bars: pd.DataFrame, market: pd.Series | None) -> Callable[..., np.ndarray]:
    """Columns (n, k) the candidate appends to the product's design matrix (k = 0: none)."""

    def cols(rv: np.ndarray, r: np.ndarray) -> np.ndarray:
        n = len(rv)
        month = volatility._trailing_mean(rv, max(volatility.HAR_WINDOWS))
        if name == "gap":
            if "open" not in bars:
                return np.empty((n, 0))
            o, _, _, _ = _ohlc_logs(bars)
            logc = np.log(bars["close"].to_numpy(float))
            return _ratio_log((o - np.r_[np.nan, logc[:-1]]) ** 2, month)[:, None]
        if name == "gjr":
            with np.errstate(invalid="ignore"):
                return (np.where(r < 0, 1.0, 0.0) * _ratio_log(r**2, month))[:, None]
        if name == "absr":
            a = np.abs(r)
            out = []
            for w in (5, 22):
                m = volatility._trailing_mean(a, w)
                with np.errstate(divide="ignore"):  # a month of stale closes: -inf, dropped
                    out.append(np.log(np.maximum(np.pi / 2 * m**2, 0.01 * month)))
            return np.column_stack(out)
        if name == "mkt":
            if market is None:
                return np.empty((n, 0))
            mr = np.diff(np.log(market.to_numpy(float)), prepend=np.nan)
            e = volatility._trailing_ewma(mr**2)
            e = pd.Series(e, index=market.index).reindex(bars.index).to_numpy(float)
            return np.log(np.maximum(e, volatility.EPS))[:, None]
        return np.empty((n, 0))

    return cols


def qlike_coef(x: np.ndarray, y: np.ndarray, b0: np.ndarray, iters: int = 30) -> np.ndarray:
    """The coefficients b minimising sum(y exp(-x b) + x b), i.e. the QLIKE of the forecast
    exp(x b) against y (a Gamma GLM with log link: convex in b), by damped Newton from b0."""
    b = b0.copy()
    z = x @ b
    loss = float(np.sum(y * np.exp(-z) + z))
    for _ in range(iters):
        w = y * np.exp(-z)
        g = x.T @ (1.0 - w)
        try:
            step = np.linalg.solve((x * w[:, None]).T @ x, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or float(g @ step) < 1e-9 * len(y):
            break  # the Newton decrement: converged
        t = 1.0
        while t > 1e-6:
            bn = b - t * step
            zn = x @ bn
            with np.errstate(over="ignore"):
                ln = float(np.sum(y * np.exp(-zn) + zn))
            if np.isfinite(ln) and ln <= loss:
                break
            t /= 2.0
        else:
            break
        b, z, loss = bn, zn, ln
    return b


def _fit_hook(name: str, bars: pd.DataFrame) -> Callable[..., float] | None:
    """The candidate's volatility._fit_forecast (None: the product's)."""
    product = volatility._fit_forecast
    warm: dict[int, np.ndarray] = {}  # the last window's solution per horizon (warm start)
    if name in ("ql", "ql-rv"):

        def fit(x, target, realized, rows, coef, end, h):
            xr = x[rows]
            y = np.maximum(realized[rows], volatility.EPS) if name == "ql" else np.exp(target[rows])
            b0 = warm.get(h)
            if b0 is None:
                b0 = coef.copy()
                b0[0] += np.log(np.mean(y / np.exp(xr @ coef)))
            b = qlike_coef(xr, y, b0)
            warm[h] = b
            return product(x, target, realized, rows, b, end, h)

        return fit
    if name == "mix":
        r = np.diff(np.log(bars["close"].to_numpy(float)), prepend=np.nan)
        ewma1 = volatility.ewma_variance(pd.Series(r), 1).to_numpy(float)

        def fit(x, target, realized, rows, coef, end, h):
            har = product(x, target, realized, rows, coef, end, h)
            e_end = h * ewma1[end]
            rows = rows[np.isfinite(ewma1[rows])]
            if not np.isfinite(e_end) or len(rows) < 50:
                return har
            f = np.exp(x[rows] @ coef)
            y = np.maximum(realized[rows], volatility.EPS)
            f *= np.mean(y / f)  # the product's in-sample forecast on the training rows
            mixes = MIX_GRID[:, None] * f + (1 - MIX_GRID[:, None]) * (h * ewma1[rows])
            w = MIX_GRID[int(np.argmin(np.mean(y / mixes + np.log(mixes), axis=1)))]
            return float(w * har + (1 - w) * e_end)

        return fit
    return None


def walk(
    bars: pd.DataFrame, first: str, name: str, market: pd.Series | None, exog: Any = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(variance, ewma) per horizon at every session from `first`, the candidate in force."""
    index = pd.DatetimeIndex(bars.index)
    days = index[index >= pd.Timestamp(first)]
    starts = index.searchsorted(days - pd.Timedelta(days=volatility.HISTORY_DAYS))
    ends = index.searchsorted(days, side="right") - 1
    orig_x, orig_rv, orig_fit = (
        volatility._har_matrix, volatility._daily_rv, volatility._fit_forecast
    )  # fmt: skip
    extra = _extra(name, bars, market)
    proxies = {"pk": _parkinson_rv, "rs": _rogers_satchell_rv, "blend": _blend_rv}
    if name in proxies:
        volatility._daily_rv = proxies[name]
    fit = _fit_hook(name, bars)
    if fit is not None:
        volatility._fit_forecast = fit
    # both rounds were measured on the HAR alone: "product" is the product before round 2
    # (its HAR unmixed) and round 2's "mix-v" is the product since
    orig_mix, volatility.MIX_WEIGHT = volatility.MIX_WEIGHT, {1: 1.0}
    volatility._har_matrix = lambda rv, r: np.column_stack([orig_x(rv, r), extra(rv, r)])
    try:
        w = volatility.forecast_walk(bars, starts, ends, HORIZONS, exog)
    finally:
        volatility._har_matrix, volatility._daily_rv = orig_x, orig_rv
        volatility._fit_forecast, volatility.MIX_WEIGHT = orig_fit, orig_mix
    out = {h: (w[h][0].copy(), w[h][1]) for h in HORIZONS}
    if name == "h5/5":
        out[1] = (w[5][0] / 5.0, w[1][1])
    return out


def series_rows(
    group: str,
    symbol: str,
    bars: pd.DataFrame,
    market: pd.Series | None,
    cands: tuple[str, ...] = CANDIDATES,
) -> pd.DataFrame:
    """One row per (date, h): realized, ewma, each candidate's variance, and `seen`: the
    daily range proxy summed over t+1..t+h, the SAME sessions the realized variance covers
    (OHLC only; NaN on close-only bars): the look-ahead ceiling, never a candidate."""
    index = pd.DatetimeIndex(bars.index)
    days = index[index >= pd.Timestamp(FIRST[group])]
    ends = index.searchsorted(days, side="right") - 1
    parts = []
    res = {c: walk(bars, FIRST[group], c, market) for c in cands}
    has_range = {"open", "high", "low"} <= set(bars.columns)
    proxy = pd.Series(volatility._returns(bars)[3], index=bars.index)
    for h in HORIZONS:
        rv = volatility.future_realized_var(bars["close"], h).to_numpy(float)[ends]
        d = {"set": group, "symbol": symbol, "date": days, "h": h, "realized": rv}
        d["ewma"] = res["product"][h][1]
        for c in cands:
            d[c] = res[c][h][0]
        seen = proxy.rolling(h, min_periods=h).sum().shift(-h).to_numpy(float)[ends]
        d["seen"] = seen if has_range else np.full(len(days), np.nan)
        parts.append(pd.DataFrame(d))
    return pd.concat(parts, ignore_index=True)


def gain(d: pd.DataFrame, col: str) -> float:
    d = d[d["realized"].notna() & d["ewma"].notna() & d[col].notna()]
    return 1 - volatility.mean_qlike(d["realized"], d[col]) / volatility.mean_qlike(
        d["realized"], d["ewma"]
    )


def dm_p(d: pd.DataFrame, a: str, b: str, h: int) -> tuple[float, float]:
    """Diebold-Mariano on the daily cross-sectional mean QLIKE difference a - b (Newey-West,
    lag max(5, h)): (t, two-sided normal p)."""
    from scipy.stats import norm

    d = d[d["realized"].notna() & d["ewma"].notna() & d[a].notna() & d[b].notna()]
    diff = volatility.qlike(d["realized"], d[a]) - volatility.qlike(d["realized"], d[b])
    x = pd.Series(diff, index=d.index).groupby(d["date"].to_numpy()).mean().to_numpy()
    mean = float(x.mean())
    x = x - mean
    n, lag = len(x), max(5, h)
    var = x @ x / n
    for k in range(1, lag + 1):
        var += 2 * (1 - k / (lag + 1)) * (x[k:] @ x[:-k]) / n
    if var <= 0:  # the same forecasts
        return 0.0, 1.0
    t = mean / float(np.sqrt(var / n))
    return t, float(2 * norm.sf(abs(t)))


def years(df: pd.DataFrame, a: int, b: int) -> pd.DataFrame:
    y = df["date"].dt.year
    return df[(y >= a) & (y <= b)]


def views(data: pd.DataFrame) -> list[pd.DataFrame]:
    ohlc, panel = data[data["set"] == "ohlc"], data[data["set"] == "panel"]
    return [
        years(ohlc, *VAL),
        years(panel[panel["date"] >= pd.Timestamp(FIRST["ohlc"])], *VAL),
        years(panel, *VAL_LONG),
    ]


def compute(cands: tuple[str, ...] = CANDIDATES) -> pd.DataFrame:
    ohlc = load_ohlc()
    closes, index = load_panel()
    gspc = ohlc["^GSPC"]["close"]
    jobs: list[tuple[str, str, pd.DataFrame, pd.Series | None]] = [
        ("ohlc", s, b, None if s == "^GSPC" else gspc) for s, b in sorted(ohlc.items())
    ]
    jobs += [
        ("panel", s, closes[s].dropna().to_frame("close"), index) for s in sorted(closes.columns)
    ]
    parts = Parallel(n_jobs=2)(delayed(series_rows)(*j, cands) for j in jobs)
    return pd.concat(parts, ignore_index=True)


def add_mix_v(data: pd.DataFrame) -> dict[int, float]:
    """Candidate ``mix-v``: w x product + (1 - w) x EWMA, ONE HAR weight w per horizon, the
    one of MIX_GRID with the best validation criterion (the mean of the three views' pooled
    gains; test years play no part). Adds the column; returns the weights."""
    weights = {}
    for h in HORIZONS:
        score = {}
        for w in MIX_GRID:
            gains = []
            for v in views(data):
                v = v[v["h"] == h]
                gains.append(gain(v.assign(m=w * v["product"] + (1 - w) * v["ewma"]), "m"))
            score[float(w)] = float(np.mean(gains))
        weights[h] = max(score, key=lambda w: (score[w], w))
    w_row = data["h"].map(weights)
    data["mix-v"] = w_row * data["product"] + (1 - w_row) * data["ewma"]
    return weights


def scale_check(data: pd.DataFrame) -> None:
    """Is the product's scale (the log fit's exp bias and the proxy's level, fitted on each
    window's training rows) right out of sample? mean(realized / forecast) is 1 for a
    right level; the gain with the period's own best constant (infeasible) bounds what
    any better constant could add."""
    print("\nproduct's level out of sample: mean(realized / forecast) (1 = right) and the "
          "pooled gain with the period's own QLIKE-best constant c (infeasible)")  # fmt: skip
    spans = [("ohlc", *VAL, "val"), ("panel", *VAL_LONG, "val")]
    spans += [("ohlc", TEST, 2100, "test"), ("panel", TEST, 2100, "test")]
    for s, first, last, label in spans:
        d = years(data[data["set"] == s], first, last)
        line = f"{s:<5} {label:<4} {first}-{min(last, d['date'].dt.year.max())}"
        for h in HORIZONS:
            g = d[(d["h"] == h) & d["realized"].notna() & d["ewma"].notna()]
            c = float(np.mean(np.maximum(g["realized"], volatility.EPS) / g["product"]))
            line += (
                f" | h{h} c {c:.3f}: {100 * gain(g, 'product'):+.2f}% -> "
                f"{100 * gain(g.assign(m=c * g['product']), 'm'):+.2f}%"
            )
        print(line)


def ceiling(data: pd.DataFrame) -> None:
    """The OHLC set's look-ahead ceiling: the range proxy of the very sessions scored (t+1..t+h)
    as the 'forecast', raw, times the constant best on validation (OHLC 2003-06), and times
    the test years' own best constant (infeasible twice). Never a product candidate."""
    o = data[(data["set"] == "ohlc") & data["seen"].notna()]
    print(
        "\nCEILING (OHLC, infeasible: the range proxy of the scored sessions themselves; "
        "pooled gain over EWMA)"
    )
    for h in HORIZONS:
        oh = o[(o["h"] == h) & o["realized"].notna() & o["ewma"].notna()]
        val, test = years(oh, *VAL), oh[oh["date"].dt.year >= TEST]
        c_val = float(np.mean(np.maximum(val["realized"], volatility.EPS) / val["seen"]))
        c_test = float(np.mean(np.maximum(test["realized"], volatility.EPS) / test["seen"]))
        print(
            f"h{h}: validation raw {100 * gain(val, 'seen'):+.1f}%; test (n {len(test)}) raw "
            f"{100 * gain(test, 'seen'):+.1f}%, x c_val {c_val:.3f} "
            f"{100 * gain(test.assign(m=c_val * test['seen']), 'm'):+.1f}%, x c_test "
            f"{c_test:.3f} {100 * gain(test.assign(m=c_test * test['seen']), 'm'):+.1f}%; "
            f"product {100 * gain(test, 'product'):+.1f}%"
        )
        if h == 1:
            print("  h1 per test year (seen x c_val / product): " + ", ".join(
                f"{y} {100 * gain(g.assign(m=c_val * g['seen']), 'm'):+.1f}% / "
                f"{100 * gain(g, 'product'):+.1f}%"
                for y, g in test.groupby(test["date"].dt.year)
            ))  # fmt: skip


def insample_ceiling() -> None:
    """A second look-ahead ceiling: the product's own design (features of each session's
    past) with ONE coefficient vector per series fitted on the test years themselves, by
    the product's estimator (least squares on the log proxy, then the QLIKE-best scale)
    and by QLIKE directly (the best any fixed-coefficient forecaster on these features can
    score there). Pooled test gain over EWMA (the whole series' RiskMetrics, as the walk's
    on windows this long). Never a candidate."""
    ohlc = load_ohlc()
    closes, _ = load_panel()
    series = [("ohlc", s, b) for s, b in sorted(ohlc.items())]
    series += [("panel", s, closes[s].dropna().to_frame("close")) for s in sorted(closes.columns)]
    print(
        "\nCEILING 2 (infeasible: the product's design, coefficients fitted on the test years "
        "themselves, per series; pooled test gain over EWMA)"
    )
    for group in ("ohlc", "panel"):
        line = f"{group:<5}"
        for h in HORIZONS:
            loss: dict[str, list[np.ndarray]] = {"ewma": [], "ols": [], "qlike": []}
            for g, _, bars in series:
                if g != group:
                    continue
                _, r, r2, rv = volatility._returns(bars)
                x = volatility._har_matrix(rv, r)
                target = volatility.har_target(rv, h)
                realized = volatility.future_realized_var(bars["close"], h).to_numpy(float)
                ewma = h * volatility.ewma_variance(pd.Series(r), 1).to_numpy(float)
                test = pd.DatetimeIndex(bars.index).year >= TEST
                ok = test & np.isfinite(x).all(axis=1) & np.isfinite(target)
                ok &= np.isfinite(realized) & np.isfinite(ewma)
                xr, y = x[ok], np.maximum(realized[ok], volatility.EPS)
                coef, *_ = np.linalg.lstsq(xr, target[ok], rcond=None)
                f_ols = np.exp(xr @ coef)
                f_ols *= np.mean(y / f_ols)
                b0 = coef.copy()
                b0[0] += np.log(np.mean(y / np.exp(xr @ coef)))
                f_ql = np.exp(xr @ qlike_coef(xr, y, b0, iters=100))
                loss["ewma"].append(volatility.qlike(y, ewma[ok]))
                loss["ols"].append(volatility.qlike(y, f_ols))
                loss["qlike"].append(volatility.qlike(y, f_ql))
            base = float(np.concatenate(loss["ewma"]).mean())
            n = sum(len(v) for v in loss["ewma"])
            line += f" | h{h} (n {n}) " + ", ".join(
                f"{k} {100 * (1 - float(np.concatenate(loss[k]).mean()) / base):+.1f}%"
                for k in ("ols", "qlike")
            )
        print(line, flush=True)


def report(data: pd.DataFrame, cands: tuple[str, ...] = CANDIDATES) -> None:
    last = data.loc[data["set"] == "panel", "date"].max()
    print(
        f"OHLC set {data.loc[data['set'] == 'ohlc', 'symbol'].nunique()} series (to 2013-02) "
        f"from {FIRST['ohlc']}, panel {data.loc[data['set'] == 'panel', 'symbol'].nunique()} "
        f"stocks (to {last.date()}) from {FIRST['panel']}; "
        f"{len(cands) - 1} candidates against the product; validation {VAL[0]}-{VAL[1]} "
        f"(both) + panel {VAL_LONG[0]}-{VAL_LONG[1]}, test {TEST} on\n"
    )
    val = {c: {h: float(np.mean([gain(v[v["h"] == h], c) for v in views(data)])) for h in HORIZONS}
           for c in cands}  # fmt: skip
    ref = val["product"]
    kept = [
        c for c in cands[1:] if val[c][1] > ref[1] and all(val[c][h] >= ref[h] for h in HORIZONS)
    ]
    chosen = max(kept, key=lambda c: val[c][1]) if kept else None
    test = data[data["date"].dt.year >= TEST]
    print("pooled QLIKE gain over EWMA: validation (mean of 3 views) | test OHLC | test panel")
    for c in cands:
        parts_t = []
        for s in ("ohlc", "panel"):
            d = test[test["set"] == s]
            parts_t.append(
                " ".join(f"h{h} {100 * gain(d[d['h'] == h], c):+.2f}%" for h in HORIZONS)
            )
        verdict = "" if c == "product" else ("KEPT" if c in kept else "rejected")
        print(
            f"{c:<8} " + " ".join(f"h{h} {100 * val[c][h]:+.2f}%" for h in HORIZONS)
            + f" {verdict:<8} | {parts_t[0]} | {parts_t[1]}",
            flush=True,
        )  # fmt: skip
    print(f"\nkept by validation: {kept or 'none'}; chosen: {chosen or 'none (the product)'}")
    spans = [("ohlc", *VAL, "validation"), ("panel", *VAL_LONG, "validation")]
    spans += [("ohlc", TEST, 2100, "test"), ("panel", TEST, 2100, "test")]
    for s, first, last, label in spans:
        d = years(data[data["set"] == s], first, last)
        for h in HORIZONS:
            dh = d[(d["h"] == h) & d["realized"].notna() & d["ewma"].notna()]
            print(
                f"\n{s} {label} h{h}: QLIKE gain over EWMA per year (n calls {len(dh)}, "
                f"{dh['symbol'].nunique()} series)"
            )
            print(f"{'year':<6}" + "".join(f"{c:>9}" for c in cands))
            by_year = [(str(y), g) for y, g in dh.groupby(dh["date"].dt.year)]
            for y, g in [*by_year, ("all", dh)]:
                print(f"{y:<6}" + "".join(f"{100 * gain(g, c):+8.1f}%" for c in cands))
    print("\nDiebold-Mariano on test (daily mean QLIKE difference; t < 0: the first is better)")
    for s in ("ohlc", "panel"):
        d = test[test["set"] == s]
        for h in HORIZONS:
            t, p = dm_p(d[d["h"] == h], "product", "ewma", h)
            line = f"{s} h{h}: product vs EWMA t {t:+.2f} (p {p:.3g})"
            for c in kept:
                t2, p2 = dm_p(d[d["h"] == h], c, "product", h)
                line += f"; {c} vs product t {t2:+.2f} (p {p2:.3g})"
            print(line)


def vix_rows(symbol: str, bars: pd.DataFrame, vixc: pd.Series) -> pd.DataFrame:
    index = pd.DatetimeIndex(bars.index)
    first = "2013-01-01"
    days = index[index >= pd.Timestamp(first)]
    ends = index.searchsorted(days, side="right") - 1
    x = vix.log_implied_var(vixc, index)
    plain = walk(bars, first, "product", None)
    with_vix = walk(bars, first, "product", None, x)
    parts = []
    for h in HORIZONS:
        rv = volatility.future_realized_var(bars["close"], h).to_numpy(float)[ends]
        parts.append(
            pd.DataFrame(
                {"symbol": symbol, "date": days, "h": h, "realized": rv, "ewma": plain[h][1],
                 "product": plain[h][0], "vix": with_vix[h][0]}
            )
        )  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def vix_protocol() -> None:
    vixc = importlib.import_module("arch.data.vix").load()["vix"].astype(float)
    vixc.index = pd.DatetimeIndex(vixc.index).normalize()
    closes, _ = load_panel()
    closes = closes.loc[:"2019-03-01"]
    parts = Parallel(n_jobs=2)(
        delayed(vix_rows)(s, closes[s].dropna().to_frame("close"), vixc)
        for s in sorted(closes.columns)
    )
    data = pd.concat(parts, ignore_index=True)
    print(
        f"VIX (arch.data.vix {vixc.index[0].date()}..{vixc.index[-1].date()}), panel "
        f"{len(closes.columns)} stocks; validation {VIX_VAL[0]}..{VIX_VAL[1]}, test "
        f"{VIX_TEST[0]}..{VIX_TEST[1]}"
    )
    for label, (a, b) in (("validation", VIX_VAL), ("test", VIX_TEST)):
        d = data[(data["date"] >= a) & (data["date"] <= b)]
        line = f"{label:<10}"
        for h in HORIZONS:
            g = d[d["h"] == h]
            t, p = dm_p(g, "vix", "product", h)
            line += (
                f" | h{h} product {100 * gain(g, 'product'):+.2f}% vix "
                f"{100 * gain(g, 'vix'):+.2f}% (vix vs product DM t {t:+.2f}, p {p:.2g}, "
                f"n {int(g['realized'].notna().sum())})"
            )
        print(line)
    d = data[(data["date"] >= VIX_TEST[0]) & (data["date"] <= VIX_TEST[1]) & (data["h"] == 1)]
    print(
        "test h1 per year (product / vix): "
        + ", ".join(
            f"{y} {100 * gain(g, 'product'):+.1f}% / {100 * gain(g, 'vix'):+.1f}%"
            for y, g in d.groupby(d["date"].dt.year)
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--vix", action="store_true", help="the VIX candidate (2014-2018)")
    parser.add_argument(
        "--round", type=int, choices=(1, 2), help="only round 1's candidates, or only round 2's"
    )
    parser.add_argument("--rows", type=Path, help="keep the walked rows in this pickle")
    args = parser.parse_args()
    if args.vix:
        vix_protocol()
    else:
        t0 = time.perf_counter()
        cands = {1: CANDIDATES, 2: ROUND2}.get(args.round, CANDIDATES + ROUND2[1:])
        if args.rows is not None and args.rows.exists():
            rows = pd.read_pickle(args.rows)
        else:
            rows = compute(cands)
            if args.rows is not None:
                rows.to_pickle(args.rows)
        if args.round != 1:
            weights = add_mix_v(rows)
            print(f"mix-v: HAR weight per horizon chosen on validation {weights}")
            cands = (*cands, "mix-v")
        report(rows, cands)
        scale_check(rows)
        ceiling(rows)
        insample_ceiling()
        print(f"\ntook {time.perf_counter() - t0:.0f} s")
