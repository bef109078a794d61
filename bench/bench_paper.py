"""Issue 21: the paper account against buy-and-hold on public daily data, per year, at
0, 5 and 20 bps per side.

Data (as bench/bench_edge.py reads it; no network once the skfolio wheel is cached):
- OHLC set: AAPL, GOOG, IBM, MSFT (bokeh_sampledata, adjusted) and the S&P 500 and NASDAQ
  composite indices (arch.data), 2004-2013 where all six trade.
- Panel: 20 S&P 500 stocks from skfolio's wheel, adjusted closes only, 1991-2022.

The calls: the product's rule signals (`models.signals`: RSI, MACD, golden/death cross,
regime) with equal weights, UP when their votes sum above 0, DOWN below, else FLAT —
computed from closes up to the call's session. Nothing is fitted, so every year is out of
sample. The account (`models.paper`, the code the daemon and `backtest --paper` run):
`calls` long-only on those calls, volatility-target sizing from the product's own HAR
forecast (`models.volatility.forecast_walk` over each session's trailing window), cap 25%
per symbol, band 2%; next to equal-weight buy-and-hold and always-long with the same
sizing. Fills at the next session's OPEN on the OHLC set; the panel has no opens, so
there it fills at the next session's CLOSE (a session later, never a price the call knew).

Run: python bench/bench_paper.py   (about a minute on 2 cores; needs the bench extra)
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edge import load_ohlc, load_panel  # noqa: E402

from models import paper, signals, volatility  # noqa: E402

COSTS_BPS = (0.0, 5.0, 20.0)


def rule_calls(closes: pd.DataFrame) -> pd.DataFrame:
    """Per session and symbol, 'up' / 'down' / 'flat' from the summed rule votes."""
    out = {}
    for s in closes.columns:
        c = closes[s].dropna()
        total = sum(signals.votes(c).values())
        call = np.where(total > 0, "up", np.where(total < 0, "down", "flat"))
        out[s] = pd.Series(call, c.index)
    return pd.DataFrame(out)


def vol_forecast(bars: dict[str, pd.DataFrame], index: pd.DatetimeIndex) -> pd.DataFrame:
    """Annualized 1-session volatility forecast per session, from the bars a cycle loads."""
    out = {}
    for s, frame in bars.items():
        days = pd.DatetimeIndex(frame.index)
        starts = days.searchsorted(days - pd.Timedelta(days=volatility.HISTORY_DAYS))
        ends = np.arange(len(days))
        var = volatility.forecast_walk(frame, starts, ends, (1,))[1][0]
        out[s] = pd.Series(np.sqrt(var * paper.SESSIONS_PER_YEAR), days)
    return pd.DataFrame(out).reindex(index)


RULES = paper.Rules(cash=100_000.0, slippage_bps=0.0)


def decide(
    closes: pd.DataFrame, sigma: pd.DataFrame, calls: pd.DataFrame
) -> dict[str, dict[pd.Timestamp, dict[str, float]]]:
    """Target weights after each close (but the last): the rule calls' (`paper`) and
    always-long's, by `models.paper.weights` over the whole panel at once."""
    symbols = [str(s) for s in closes.columns]
    days = closes.index[:-1]
    sig = sigma.loc[days, closes.columns].to_numpy(float)
    known = calls.loc[days, closes.columns].notna().to_numpy()
    directions = {
        "paper": paper.call_directions(calls.loc[days, closes.columns].to_numpy(object), False),
        "long": known.astype(int),
    }
    out: dict[str, dict[pd.Timestamp, dict[str, float]]] = {}
    for name, d in directions.items():
        w = paper.weights(np.where(known, d, 0), sig, RULES, len(symbols))
        out[name] = {
            day: dict(zip(symbols, row.tolist(), strict=True))
            for day, row in zip(days, w, strict=True)
        }
    return out


def books_at(
    opens: pd.DataFrame, closes: pd.DataFrame, decided: dict, bps: float
) -> dict[str, paper.Book]:
    rules = dataclasses.replace(RULES, cost_bps=bps)
    symbols = [str(s) for s in closes.columns]
    first = closes.index[0]
    o, c = opens.loc[opens.index > first], closes.loc[closes.index > first]
    return {
        "paper": paper.run("paper", o, c, decided["paper"], rules),
        "hold": paper.run("hold", o, c, {first: paper.hold_weights(symbols)}, rules),
        "long": paper.run("long", o, c, decided["long"], rules),
    }


def study(name: str, opens: pd.DataFrame, closes: pd.DataFrame, bars: dict) -> None:
    t0 = time.monotonic()
    calls = rule_calls(closes)
    sigma = vol_forecast(bars, pd.DatetimeIndex(closes.index))
    # the first 250 sessions warm up the indicators (SMA 200) and the volatility forecast
    warm = closes.index[250:]
    opens, closes, calls, sigma = (f.loc[warm] for f in (opens, closes, calls, sigma))
    years = None
    sharpes = None
    summary = []
    decided = decide(closes, sigma, calls)
    for bps in COSTS_BPS:
        books = books_at(opens, closes, decided, bps)
        per_year = paper.by_year(books)[["paper", "hold"]]
        per_year.columns = [f"paper {bps:g}", f"hold {bps:g}"]
        years = per_year if years is None else years.join(per_year)
        sr = paper.sharpe_by_year(books)[["paper", "hold", "long"]]
        sr.columns = [f"{c} {bps:g}" for c in sr.columns]
        sharpes = sr if sharpes is None else sharpes.join(sr)
        for row in paper.report(books):
            summary.append({"bps": bps, **row})
    print(
        f"\n== {name}: {len(closes.columns)} symbols, {closes.index[0].date()} .. "
        f"{closes.index[-1].date()} ({time.monotonic() - t0:.0f} s)"
    )
    print(
        "return per calendar year (paper = rule calls, long-only, vol-target sized; "
        "hold = equal-weight buy-and-hold), by cost per side in bps"
    )
    assert years is not None
    print((years * 100).round(1).to_string())
    assert sharpes is not None
    print("\nSharpe per calendar year (annualized, daily returns), by cost per side in bps")
    print(sharpes.round(2).to_string())
    print("\nwhole period")
    head = f"{'bps':>4} {'book':<6} {'annual':>7} {'vol':>6} {'sharpe':>6} {'sortino':>7} "
    head += f"{'maxDD':>6} {'turn/yr':>7} {'costs':>9} {'trades':>6} {'hit':>6} "
    head += f"{'p vs hold':>9} {'p vs long':>9} {'SR p hold':>9} {'SR p long':>9}"
    print(head)
    for r in summary:

        def f(v, fmt):  # noqa: ANN001, ANN202
            return "-" if v is None else format(v, fmt)

        print(
            f"{r['bps']:>4g} {r['book']:<6} {f(r['annual_return'], '+.1%'):>7} "
            f"{f(r['volatility'], '.1%'):>6} {f(r['sharpe'], '.2f'):>6} "
            f"{f(r.get('sortino'), '.2f'):>7} "
            f"{f(r['max_drawdown'], '.1%'):>6} {f(r['turnover'], '.1f'):>7} "
            f"{f(r['costs'], ',.0f'):>9} {r['trades']:>6} {f(r['hit_rate'], '.1%'):>6} "
            f"{f(r.get('p_vs_hold'), '.3g'):>9} {f(r.get('p_vs_long'), '.3g'):>9} "
            f"{f(r.get('p_sharpe_vs_hold'), '.3g'):>9} {f(r.get('p_sharpe_vs_long'), '.3g'):>9}"
        )


def main() -> None:
    ohlc = load_ohlc()
    closes = pd.DataFrame({s: b["close"] for s, b in ohlc.items()}).dropna()
    opens = pd.DataFrame({s: b["open"] for s, b in ohlc.items()}).reindex(closes.index)
    study(
        "OHLC set (fills at the next open)",
        opens,
        closes,
        {s: b.loc[closes.index] for s, b in ohlc.items()},
    )
    panel, _ = load_panel()
    panel = panel.dropna(axis=1, how="any")
    bars = {s: pd.DataFrame({"close": panel[s]}) for s in panel.columns}
    study("skfolio panel (closes only: fills at the next close)", panel, panel, bars)


if __name__ == "__main__":
    main()
