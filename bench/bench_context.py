"""Does the outside world help the volatility forecast and the ranges? VIX and the calendar.

Data: the S&P 500 and NASDAQ Composite daily OHLC (`arch.data.sp500` / `arch.data.nasdaq`)
with CBOE's VIX (`arch.data.vix`, 2014-01-03 … 2019-01-03), all shipped offline.
Walk-forward through the cycle's own function, `volatility.forecast_walk`: at each session
the forecast a cycle makes from the bars it loads (the last HISTORY_DAYS calendar days),
its HAR fitted on the rows whose h-session outcome is known, against the same with extra
regressors through its `exog` argument: log of the VIX-implied daily variance (VIX²/252, the
level known at t's close), an "FOMC decision within the next h sessions" flag and an
"estimated CPI release within the next h sessions" flag (`models.events`, known in
advance). Ranges: ±q·σ of the h-session log return, q the split-conformal quantile of the
past 500 standardized residuals whose outcome was known at t (a plain rule, the same for
every variant: not the cycle's adaptive level).

Scored: QLIKE against the realized close-to-close variance over t+1..t+h, and the 80% / 95%
ranges' coverage and interval score (Winkler, % of the price), per year. 2014 only warms
up; 2015-2016 are the VALIDATION years (per horizon the variant with the lowest QLIKE there
is chosen), 2017-2018 the TEST years, reported for every variant whatever they say.

Run: .venv/bin/python bench/bench_context.py   (about a minute on 2 cores)
"""

from __future__ import annotations

import importlib
import time

import numpy as np
import pandas as pd

from models import events, vix, volatility

HORIZONS = (1, 3, 5)
POOL = 500  # past standardized residuals behind a range's multiplier
LEVELS = (0.80, 0.95)
VALIDATION = (2015, 2016)
TEST = (2017, 2018)
VARIANTS = {
    "har": (),
    "har+vix": ("log_vix_var",),
    "har+fomc": ("fomc",),
    "har+cpi": ("cpi",),
    "har+vix+fomc+cpi": ("log_vix_var", "fomc", "cpi"),
}


def load() -> tuple[dict[str, pd.DataFrame], pd.Series]:
    vixc = importlib.import_module("arch.data.vix").load()["vix"].astype(float)
    vixc.index = pd.DatetimeIndex(vixc.index).normalize()
    out = {}
    for name, mod in (("^GSPC", "arch.data.sp500"), ("^IXIC", "arch.data.nasdaq")):
        frame = importlib.import_module(mod).load()
        frame.index = pd.DatetimeIndex(frame.index).normalize()
        frame = frame.rename(columns=str.lower).loc["2011-01-01":"2018-12-31"]
        out[name] = frame[["open", "high", "low", "close"]].astype(float)
    return out, vixc


def design(bars: pd.DataFrame, vixc: pd.Series, h: int) -> pd.DataFrame:
    sessions = pd.DatetimeIndex(bars.index)
    x = pd.DataFrame(index=sessions)
    level = vix.features(vixc, sessions)["vix"]
    x["log_vix_var"] = np.log((level / 100.0) ** 2 / 252.0)
    x["fomc"] = events.event_within(sessions, h, "FOMC")
    x["cpi"] = events.event_within(sessions, h, "CPI")
    x["realized"] = volatility.future_realized_var(bars["close"], h)
    x["ret_h"] = np.log(bars["close"]).shift(-h) - np.log(bars["close"])
    return x


def walk(bars: pd.DataFrame, x: pd.DataFrame, cols: tuple[str, ...], h: int) -> np.ndarray:
    """The cycle's variance forecast at every session from 2014 on (NaN before)."""
    index = pd.DatetimeIndex(bars.index)
    days = index[index >= pd.Timestamp("2014-01-01")]
    starts = index.searchsorted(days - pd.Timedelta(days=volatility.HISTORY_DAYS))
    ends = index.searchsorted(days, side="right") - 1
    exog = x[list(cols)].to_numpy(float) if cols else None
    var = volatility.forecast_walk(bars, starts, ends, (h,), exog=exog)[h][0]
    out = np.full(len(index), np.nan)
    out[ends] = var
    return out


def ranges(var: np.ndarray, ret: np.ndarray, h: int) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Per level, (half-width, covered) arrays; NaN before a pool exists."""
    z = np.abs(ret) / np.sqrt(var)
    out = {}
    for level in LEVELS:
        half = np.full(len(var), np.nan)
        for t in range(len(var)):
            past = z[max(0, t - h + 1 - POOL) : max(0, t - h + 1)]
            past = past[np.isfinite(past)]
            if len(past) >= 100 and np.isfinite(var[t]):
                q = np.quantile(past, min(1.0, level * (1 + 1 / len(past))), method="higher")
                half[t] = q * np.sqrt(var[t])
        out[level] = (half, np.abs(ret) <= half)
    return out


def winkler_pct(half: np.ndarray, ret: np.ndarray, level: float) -> np.ndarray:
    """Interval score of the range of the h-session return, in % of the price."""
    lo, hi = np.exp(-half) - 1, np.exp(half) - 1
    r = np.exp(ret) - 1
    a = 1 - level
    return 100 * ((hi - lo) + (2 / a) * np.maximum(lo - r, 0) + (2 / a) * np.maximum(r - hi, 0))


def score(frames: list[pd.DataFrame], years: tuple[int, ...]) -> dict[str, float]:
    rows = pd.concat(frames)
    rows = rows[rows["year"].isin(years)]
    out = {"n": float(len(rows)), "qlike": float(rows["qlike"].mean())}
    for level in LEVELS:
        k = int(level * 100)
        out[f"cov{k}"] = float(rows[f"cov{k}"].mean())
        out[f"is{k}"] = float(rows[f"is{k}"].mean())
    return out


def main() -> None:
    t0 = time.perf_counter()
    data, vixc = load()
    results: dict[tuple[str, int], list[pd.DataFrame]] = {}
    for _, bars in data.items():
        for h in HORIZONS:
            x = design(bars, vixc, h)
            ret, realized = x["ret_h"].to_numpy(float), x["realized"].to_numpy(float)
            for name, cols in VARIANTS.items():
                var = walk(bars, x, cols, h)
                rg = ranges(var, ret, h)
                frame = pd.DataFrame(
                    {
                        "year": pd.DatetimeIndex(x.index).year,
                        "qlike": volatility.qlike(realized, var),
                        **{f"cov{int(lv * 100)}": rg[lv][1].astype(float) for lv in LEVELS},
                        **{f"is{int(lv * 100)}": winkler_pct(rg[lv][0], ret, lv) for lv in LEVELS},
                    }
                )
                keep = np.isfinite(var) & np.isfinite(realized) & np.isfinite(ret)
                keep &= np.isfinite(rg[0.95][0]) & np.isfinite(rg[0.80][0])
                keep &= np.asarray(pd.DatetimeIndex(x.index).year >= 2014)
                results.setdefault((name, h), []).append(frame[keep])
    print("QLIKE (lower is better) and the ranges, S&P 500 + NASDAQ Composite, walk-forward")
    chosen = {}
    for h in HORIZONS:
        base_val = score(results[("har", h)], VALIDATION)["qlike"]
        for name in VARIANTS:
            v = score(results[(name, h)], VALIDATION)
            gain = 100 * (1 - v["qlike"] / base_val)
            print(
                f"h={h} {name:<17} validation 2015-16: QLIKE {v['qlike']:.4f} ({gain:+.1f}% vs har)"
            )
        chosen[h] = min(VARIANTS, key=lambda n: score(results[(n, h)], VALIDATION)["qlike"])
    print("\nchosen on validation (lowest QLIKE), scored on the test years 2017-18:")
    for h, name in chosen.items():
        s, b = score(results[(name, h)], TEST), score(results[("har", h)], TEST)
        print(
            f"h={h} {name:<17} QLIKE {s['qlike']:.4f} vs har {b['qlike']:.4f} "
            f"({100 * (1 - s['qlike'] / b['qlike']):+.1f}%); interval score 80% "
            f"{s['is80']:.2f} vs {b['is80']:.2f}, 95% {s['is95']:.2f} vs {b['is95']:.2f} (% of "
            f"price); coverage 80% {100 * s['cov80']:.1f}% vs {100 * b['cov80']:.1f}%, "
            f"95% {100 * s['cov95']:.1f}% vs {100 * b['cov95']:.1f}%"
        )
    print("\nper year (every variant, reported whatever it says)")
    head = f"{'h':>2} {'variant':<17} {'year':>9} {'n':>5} {'QLIKE':>7} {'vs har':>7} "
    print(head + f"{'cov80':>6} {'IS80%':>6} {'cov95':>6} {'IS95%':>6}")
    for h in HORIZONS:
        for name in VARIANTS:
            for years in [(y,) for y in (*VALIDATION, *TEST)] + [TEST]:
                s = score(results[(name, h)], years)
                b = score(results[("har", h)], years)
                label = str(years[0]) if len(years) == 1 else "test all"
                print(
                    f"{h:>2} {name:<17} {label:>9} {int(s['n']):>5} {s['qlike']:7.4f} "
                    f"{100 * (1 - s['qlike'] / b['qlike']):+6.1f}% "
                    f"{100 * s['cov80']:5.1f}% {s['is80']:6.2f} {100 * s['cov95']:5.1f}% {s['is95']:6.2f}"
                )
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
