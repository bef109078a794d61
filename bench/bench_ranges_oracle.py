"""What a forecaster that knows the true variance would score on issue 22's targets.

The ranges' targets (bench_ranges.py) ask for pooled 80% / 95% coverage within +-5 pp of
nominal in every calendar quarter, and a variance forecast 5% better than EWMA in QLIKE in
every calendar year, at 1, 3 and 5 sessions. Part of any quarter's or year's error is
luck: the symbols of a panel move together, and 3- and 5-session outcomes overlap. This
bench measures how much, on simulated panels where the truth is known:

- returns: one market factor and one idiosyncratic part per symbol, each a GJR-GARCH(1,1)
  with Student-t(6) shocks (market: 1.3% a day, alpha 0.04, leverage 0.10, beta 0.90;
  idiosyncratic: 1.5% a day, alpha 0.05, beta 0.93; betas 0.8-1.2), which gives a pairwise
  return correlation near 0.4 (the bench panel's 10 stocks: 0.43 over 2007-2022, 0.10 in
  2017, 0.60 in 2020), higher in storms;
- the oracle's range: mu = 0, sigma^2 = the TRUE conditional variance of the h-session
  sum known at the call, and one fixed multiplier per level and horizon (the conformal
  quantile of |r| / sigma on a separate simulated panel) — calibrated by construction;
- the oracle's variance forecast is that same true variance, scored like bench_ranges
  against the realized sum of squared daily returns and compared with EWMA (lambda 0.94).

Panels have the bench's sizes (6 symbols to 2013 and 10 symbols over 16 years); each is
simulated REPS times. Printed: the share of quarters inside +-5 pp, the worst quarter, and
the share of years with QLIKE at least 5% better than EWMA, per horizon.

Run: python bench/bench_ranges_oracle.py   (about 1 minute)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import intervals, volatility  # noqa: E402

HORIZONS = (1, 3, 5)
QUARTER = 63  # sessions in a calendar quarter
YEAR = 4 * QUARTER
WARM = YEAR  # the first simulated year warms the EWMA and is not scored
REPS = 20
NU = 6.0
MARKET = (0.013**2, 0.04, 0.10, 0.90)  # (unconditional variance, alpha, leverage, beta)
IDIO = (0.015**2, 0.05, 0.0, 0.93)


def _t_shocks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_t(NU, size=shape) / math.sqrt(NU / (NU - 2.0))


def _persistence(p: tuple[float, float, float, float]) -> float:
    _, a, g, b = p
    return a + g / 2.0 + b


def simulate(
    rng: np.random.Generator, reps: int, symbols: int, sessions: int
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Returns r (reps, sessions, symbols) and, per h, the true conditional variance of the
    h-session sum r[t+1] + ... + r[t+h] known at session t (same shape, NaN at the end)."""
    beta = np.linspace(0.8, 1.2, symbols)
    n = sessions
    r = np.empty((reps, n, symbols))
    hm = np.empty((reps, n))  # market variance of session t, known at t-1
    hi = np.empty((reps, n, symbols))
    vm, vi = np.full(reps, MARKET[0]), np.full((reps, symbols), IDIO[0])
    zm, zi = _t_shocks(rng, (reps, n)), _t_shocks(rng, (reps, n, symbols))
    for t in range(n):
        hm[:, t], hi[:, t] = vm, vi
        f = np.sqrt(vm) * zm[:, t]
        e = np.sqrt(vi) * zi[:, t]
        r[:, t] = beta * f[:, None] + e
        vm = _garch_step(vm, f, MARKET)
        vi = _garch_step(vi, e, IDIO)
    true: dict[int, np.ndarray] = {}
    pm, pi = _persistence(MARKET), _persistence(IDIO)
    for h in HORIZONS:
        out = np.full((reps, n, symbols), np.nan)
        # E_t[h_{t+k}] = s2 + p^(k-1) (h_{t+1} - s2): h_{t+1} is known at the close of t
        km = sum(pm**k for k in range(h))
        ki = sum(pi**k for k in range(h))
        nxt_m, nxt_i = hm[:, 1:], hi[:, 1:]
        var_m = h * MARKET[0] + km * (nxt_m - MARKET[0])
        var_i = h * IDIO[0] + ki * (nxt_i - IDIO[0])
        out[:, : n - h] = (beta**2 * var_m[:, :, None] + var_i)[:, : n - h]
        true[h] = out
    return r, true


def _garch_step(v: np.ndarray, e: np.ndarray, p: tuple[float, float, float, float]) -> np.ndarray:
    s2, a, g, b = p
    omega = s2 * (1.0 - a - g / 2.0 - b)
    return omega + (a + g * (e < 0)) * e**2 + b * v


def forward_sum(x: np.ndarray, h: int) -> np.ndarray:
    """x[t+1] + ... + x[t+h] along axis 1 (NaN where the window runs past the end)."""
    c = np.concatenate([np.zeros_like(x[:, :1]), np.cumsum(x, axis=1)], axis=1)
    out = np.full_like(x, np.nan)
    n = x.shape[1]
    out[:, : n - h] = c[:, h + 1 : n + 1] - c[:, 1 : n - h + 1]
    return out


def ewma_panel(r: np.ndarray) -> np.ndarray:
    """EWMA (lambda 0.94) of squared returns through session t, per rep and symbol."""
    reps, n, k = r.shape
    flat = pd.DataFrame(np.moveaxis(r, 1, 0).reshape(n, reps * k))
    e = flat.apply(lambda col: volatility.ewma_variance(col, 1)).to_numpy(float)
    return np.moveaxis(e.reshape(n, reps, k), 0, 1)


def multipliers(rng: np.random.Generator, symbols: int) -> dict[int, tuple[float, float]]:
    """The oracle's fixed multipliers: conformal quantiles of |r_h| / true sigma_h on a
    separate, long simulated panel."""
    r, true = simulate(rng, 4, symbols, 20 * YEAR)
    out = {}
    for h in HORIZONS:
        z = np.abs(forward_sum(r, h)) / np.sqrt(true[h])
        z = z[:, WARM:][np.isfinite(z[:, WARM:])]
        out[h] = tuple(intervals.conformal_quantile(z, level) for level in intervals.LEVELS)
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class Oracle:
    """The oracle's figures on REPS simulated panels of one size."""

    within: dict[tuple[int, float], float]  # (h, level): share of quarters inside +-5 pp
    all_inside: dict[tuple[int, float], float]  # (h, level): share of panels with every one
    median_worst: dict[tuple[int, float], float]  # (h, level): median of panels' worst (pp)
    years_ok: dict[int, float]  # h: share of years with QLIKE >= 5% better than EWMA
    mean_gain: dict[int, float]  # h: mean yearly QLIKE gain vs EWMA (%)


def oracle(symbols: int, years: int, seed: int = 22) -> Oracle:
    rng = np.random.default_rng(seed)
    q = multipliers(rng, symbols)
    r, true = simulate(rng, REPS, symbols, WARM + years * YEAR + max(HORIZONS))
    ewma1 = ewma_panel(r)
    realized_daily = r**2
    within, inside, worst, years_ok, mean_gain = {}, {}, {}, {}, {}
    for h in HORIZONS:
        ret = forward_sum(r, h)
        sigma = np.sqrt(true[h])
        for k, level in enumerate(intervals.LEVELS):
            hit = (np.abs(ret) <= q[h][k] * sigma).astype(float)
            hit[~np.isfinite(ret)] = np.nan
            cov = hit[:, WARM : WARM + years * YEAR].reshape(REPS, 4 * years, QUARTER * symbols)
            err = np.abs(np.nanmean(cov, axis=2) - level)
            within[(h, level)] = float((err <= 0.05).mean())
            inside[(h, level)] = float((err <= 0.05).all(axis=1).mean())
            worst[(h, level)] = float(100 * np.median(err.max(axis=1)))
        realized = forward_sum(realized_daily, h)
        gains = []
        for y in range(years):
            t = slice(WARM + y * YEAR, WARM + (y + 1) * YEAR)
            for rep in range(REPS):
                rv, tv = realized[rep, t].ravel(), true[h][rep, t].ravel()
                ev = (h * ewma1[rep, t]).ravel()
                ok = np.isfinite(rv) & np.isfinite(tv)
                truth = volatility.mean_qlike(rv[ok], tv[ok])
                gains.append(1.0 - truth / volatility.mean_qlike(rv[ok], ev[ok]))
        g = 100 * np.array(gains)
        years_ok[h] = float((g >= 5).mean())
        mean_gain[h] = float(g.mean())
    return Oracle(within, inside, worst, years_ok, mean_gain)


def report(name: str, symbols: int, years: int) -> None:
    o = oracle(symbols, years)
    print(f"{name}: {symbols} symbols x {years} years, {REPS} simulated panels")
    for h in HORIZONS:
        cov = "; ".join(
            f"{100 * level:.0f}%: {100 * o.within[(h, level)]:.1f}% of quarters within +-5 pp, "
            f"all {4 * years} in {100 * o.all_inside[(h, level)]:.0f}% of panels, "
            f"median worst {o.median_worst[(h, level)]:.1f} pp"
            for level in intervals.LEVELS
        )
        print(
            f"  h{h}: {cov}\n       true variance vs EWMA: yearly QLIKE gain mean "
            f"{o.mean_gain[h]:+.1f}%, years >= 5%: {100 * o.years_ok[h]:.0f}%"
        )


def main() -> None:
    report("like the OHLC set", 6, 6)
    report("like the panel", 10, 16)


if __name__ == "__main__":
    main()
