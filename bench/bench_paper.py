"""Issue 33: the paper account driven by what the product has measured, on public daily data.

The DEFAULT policy (`[paper] policy = volatility`) uses the forecast the product has shown to
be right, the volatility forecast: always long every symbol, each sized by its own forecast
(weight = min(max_weight, vol_target / sigma / N), gross at most max_exposure, re-sized only
when `band` off target) - volatility management as in Moreira & Muir (2017), per symbol. It
tilts across symbols by the ranking model only when the ranking passed its verdict
(`models.scorecard.judged`: IC t >= 2, a positive spread, and beating the better of
reversal and 12-1 momentum by t >= 2) on sessions it was not fitted on; else no tilt.
Direction calls drive nothing.

Protocol (nothing is chosen on a year that is reported as a test year):
- VALIDATION years (through 2007): the policy's settings (vol_target, max_weight,
  max_exposure, band) are chosen from GRID by the mean, over the two data sets, of the
  validation Sharpe after 5 + 2 bps per side (ties: the lower turnover). The ranking is
  judged on the validation years (yearly walk-forward refits 2004-2007) for the tilt.
- TEST years (2008 on): the chosen policy, run once from the first test session, per year
  and pooled, next to equal-weight buy-and-hold (`hold`), always-long with the reference
  sizing the issue measured (`long`: vol_target 0.15, max_weight 0.25, max_exposure 1,
  band 0.02) and the old direction policy on the product's rule calls (`calls`, the same
  reference sizing, long-only), all under the same costs, all from the same first session.

Data (as bench/bench_edge.py reads it; no network once the skfolio wheel is cached):
- OHLC set: AAPL, IBM, MSFT (bokeh_sampledata, adjusted), 2000-03 .. 2013-03; fills at the
  next session's OPEN. GOOG is left out: it starts in 2004-08, half the validation years.
- Panel: skfolio's 20 S&P 500 stocks, adjusted closes only, 1990-2022; no opens, so fills
  at the next session's CLOSE (a session later still, never a price the decision knew).
The volatility forecast is the product's HAR (`models.volatility.forecast_walk` over each
session's trailing window, as a cycle computes it); the first 250 sessions warm it up.

Targets: on the test years, the default policy's Sharpe after costs not below always-long's
(`long`), and its turnover well below the 14.6x/yr of the direction policy the issue
measured (here: at most a fifth of it, 2.9x/yr).

Run: python bench/bench_paper.py   (a few minutes on 2 loaded cores; needs the bench extra)
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edge import load_ohlc, load_panel  # noqa: E402

from models import paper, ranking, scorecard, signals, volatility  # noqa: E402

VAL_END = 2007  # the last validation year; test years follow
# the always-long the issue measured: the sizing the account had before this choice
REFERENCE = paper.Rules(
    policy="long",
    vol_target=0.15,
    max_weight=0.25,
    max_exposure=1.0,
    band=0.02,
    cost_bps=5.0,
    slippage_bps=2.0,
)
CHOSEN = ("vol_target", "max_weight", "max_exposure", "band")  # what validation chooses
GRID = [
    dataclasses.replace(
        REFERENCE, policy="volatility", vol_target=v, max_weight=m, max_exposure=e, band=b
    )
    for v, m, e, b in itertools.product(
        (0.10, 0.15, 0.20), (0.25, 0.50), (0.6, 0.8, 1.0), (0.02, 0.05, 0.10)
    )
]
TURNOVER_TARGET = 14.6 / 5  # a fifth of the direction policy's measured 14.6x/yr


@dataclass
class Data:
    name: str
    opens: pd.DataFrame
    closes: pd.DataFrame
    sigma: pd.DataFrame  # annualized 1-session volatility forecast known at each close
    calls: pd.DataFrame  # the rule calls ('up' / 'down' / 'flat')
    tilt: pd.DataFrame | None  # ranking scores on the test years, when its verdict passed
    verdict: str


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


def ranking_gate(closes: pd.DataFrame, index: pd.Series | None) -> tuple[pd.DataFrame | None, str]:
    """Judge the ranking (h = 1) on the validation years only (yearly walk-forward refits
    2004 .. VAL_END); only when it passes, its walk-forward scores on the test years."""
    if closes.shape[1] < ranking.MIN_SYMBOLS:
        return None, f"no ranking: {closes.shape[1]} symbols (a ranking needs 5)"
    days = pd.DatetimeIndex(closes.index)
    firsts = [days[days.year == y][0] for y in range(2004, VAL_END + 1)]
    val_end = days[days.year == VAL_END][-1]
    walk = ranking.walk_forward(closes, index, (1,), start=firsts[0], end=val_end, refit_at=firsts)
    rows = walk.rename(columns={"score": "expected"})
    skill = scorecard.ranking_skill(rows, 1)
    versus = scorecard.versus_factors(rows, closes, 1) if skill else None
    judged = scorecard.judged(skill, versus)
    said = f"ranking judged on 2004-{VAL_END}: "
    if judged is None:
        return None, said + "no record"
    v = judged.get("versus")
    said += f"IC {judged['mean']:+.4f} (NW t {judged['t']:.2f}), spread {judged['spread']:+.5f}"
    if v is not None and v["diff"] is not None:
        said += f"; minus the better factor ({v['better']}): {v['diff']:+.4f} (t {v['diff_t']:.2f})"
    if not judged.get("edge"):
        return None, said + " -> no edge: NO TILT"
    tests = [days[days.year == y][0] for y in sorted(set(days.year)) if y > VAL_END]
    walk = ranking.walk_forward(closes, index, (1,), start=tests[0], refit_at=tests)
    scores = walk.pivot_table(index="date", columns="symbol", values="score")
    return scores.reindex(index=closes.index, columns=closes.columns), said + " -> edge: TILT"


def decisions(
    data: Data, rules: paper.Rules, days: pd.DatetimeIndex, how: str
) -> dict[pd.Timestamp, dict[str, float]]:
    """Target weights after each close of `days`: `long` (every symbol with a forecast),
    `calls` (the rule calls, long-only) or `volatility` (as `long`, tilted when it may)."""
    symbols = [str(s) for s in data.closes.columns]
    sig = data.sigma.loc[days, data.closes.columns].to_numpy(float)
    calls = data.calls.loc[days, data.closes.columns]
    known = calls.notna().to_numpy()
    d = paper.call_directions(calls.to_numpy(object), False) if how == "calls" else known
    w = paper.weights(np.where(known, d, 0), sig, rules, len(symbols))
    if how == "volatility" and data.tilt is not None:
        w = paper.tilted(w, data.tilt.loc[days, data.closes.columns].to_numpy(float), rules)
    return {
        day: dict(zip(symbols, row.tolist(), strict=True)) for day, row in zip(days, w, strict=True)
    }


def window(data: Data, years: tuple[int, int]) -> tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]:
    """(the decision session before the window, its opens, its closes)."""
    idx = pd.DatetimeIndex(data.closes.index)
    inside = (idx.year >= years[0]) & (idx.year <= years[1])
    first = idx[int(np.argmax(inside)) - 1]
    return first, data.opens.loc[inside], data.closes.loc[inside]


def book(data: Data, rules: paper.Rules, years: tuple[int, int], how: str) -> paper.Book:
    first, o, c = window(data, years)
    if how == "hold":
        return paper.run(how, o, c, {first: paper.hold_weights(list(c.columns))}, rules)
    days = pd.DatetimeIndex([first, *c.index[:-1]])
    return paper.run(how, o, c, decisions(data, rules, days, how), rules)


def turnover(b: paper.Book, equity: pd.Series) -> float:
    """One-way traded notional per year over the mean equity, on `equity`'s sessions."""
    dates = pd.DatetimeIndex([str(f["date"]) for f in b.fills])
    notional = np.array([abs(cast(float, f["shares"])) * cast(float, f["price"]) for f in b.fills])
    inside = (dates >= equity.index[0]) & (dates <= equity.index[-1])
    years = max(len(equity) - 1, 1) / paper.SESSIONS_PER_YEAR
    return float(notional[inside].sum()) / 2 / float(equity.mean()) / years


def stats(b: paper.Book, part: pd.Series) -> dict[str, float | None]:
    r = paper.daily_returns(part).to_numpy(float)
    sd = r.std(ddof=1) if len(r) > 1 else 0.0
    return {
        "ret": float(part.iloc[-1] / part.iloc[0] - 1),
        "sharpe": float(r.mean() / sd * np.sqrt(paper.SESSIONS_PER_YEAR)) if sd > 0 else None,
        "sortino": paper.sortino(r),
        "maxdd": paper.max_drawdown(part),
        "turn": turnover(b, part),
    }


def year_slices(equity: pd.Series) -> dict[int, pd.Series]:
    """Per calendar year, its equity with the previous year's last close in front."""
    idx = pd.DatetimeIndex(equity.index)
    out = {}
    for y in sorted(set(idx.year.tolist())):
        pos = np.flatnonzero(idx.year == y)
        out[y] = equity.iloc[max(pos[0] - 1, 0) : pos[-1] + 1]
    return out


def choose(sets: list[Data]) -> tuple[paper.Rules, list[str]]:
    """The GRID row with the best mean validation Sharpe after costs over the data sets."""
    rows = []
    for rules in GRID:
        sharpes, turns = [], []
        for data in sets:
            first_year = int(pd.DatetimeIndex(data.closes.index).year[0]) + 1
            b = book(data, rules, (first_year, VAL_END), "volatility")
            s = stats(b, b.equity)
            sharpes.append(s["sharpe"] or 0.0)
            turns.append(s["turn"] or 0.0)
        rows.append((float(np.mean(sharpes)), -float(np.mean(turns)), rules, sharpes, turns))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    lines = [
        f"  {shown(r[2])}  mean SR {r[0]:.3f}  per set "
        + ", ".join(f"{s:.3f}" for s in r[3])
        + "  turnover "
        + ", ".join(f"{t:.2f}" for t in r[4])
        for r in rows[:5]
    ]
    return rows[0][2], lines


def shown(rules: paper.Rules) -> dict[str, float]:
    return {k: getattr(rules, k) for k in CHOSEN}


def report(data: Data, mine: paper.Rules) -> list[str]:
    """The test years: per year and pooled, each book's figures and the Sharpe tests."""
    idx = pd.DatetimeIndex(data.closes.index)
    years = (VAL_END + 1, int(idx.year.max()))
    books = {
        "paper": book(data, mine, years, "volatility"),
        "long": book(data, REFERENCE, years, "long"),
        "hold": book(data, REFERENCE, years, "hold"),
        "calls": book(data, REFERENCE, years, "calls"),
    }
    out = [
        f"\n== {data.name}: {data.closes.shape[1]} symbols; test {years[0]}-{years[1]} "
        f"(settings chosen on validation years through {VAL_END}); {data.verdict}",
        "per test year, after 5 + 2 bps per side: return, Sharpe, Sortino, max drawdown, "
        "turnover/yr per book; SR diff (p): paper's Sharpe minus the other's, one-sided "
        "block-bootstrap p that paper's is higher",
    ]
    head = f"{'year':<6}" + "".join(
        f"{n + ' ret':>11}{'SR':>6}{'Sort':>6}{'maxDD':>7}{'turn':>6}" for n in books
    )
    head += f"{'SR-long (p)':>16}{'SR-hold (p)':>16}"
    out.append(head)
    slices = {n: year_slices(b.equity) for n, b in books.items()}

    def fmt(v: float | None, f: str) -> str:
        return "-" if v is None or not np.isfinite(v) else format(v, f)

    def row(label: str, parts: dict[str, pd.Series]) -> str:
        line = f"{label:<6}"
        for n, b in books.items():
            s = stats(b, parts[n])
            line += f"{fmt(s['ret'], '+.1%'):>11}{fmt(s['sharpe'], '.2f'):>6}"
            line += f"{fmt(s['sortino'], '.2f'):>6}{fmt(s['maxdd'], '.1%'):>7}"
            line += f"{fmt(s['turn'], '.1f'):>6}"
        a = paper.daily_returns(parts["paper"])
        for other in ("long", "hold"):
            theirs = paper.daily_returns(parts[other]).reindex(a.index)
            d, p = paper.sharpe_test(a.to_numpy(float), theirs.to_numpy(float))
            line += f"{fmt(d, '+.2f') + ' (' + fmt(p, '.3g') + ')':>16}"
        return line

    for y in sorted(slices["paper"]):
        if y >= years[0]:
            out.append(row(str(y), {n: s[y] for n, s in slices.items()}))
    out.append(row("all", {n: b.equity for n, b in books.items()}))
    whole = {n: stats(b, b.equity) for n, b in books.items()}
    per_year = [
        (stats(books["paper"], slices["paper"][y])["sharpe"] or 0.0)
        >= (stats(books["long"], slices["long"][y])["sharpe"] or 0.0)
        for y in slices["paper"]
        if y >= years[0]
    ]
    p, lg = whole["paper"], whole["long"]
    ok_sr = (p["sharpe"] or 0) >= (lg["sharpe"] or 0)
    ok_turn = (p["turn"] or 0) <= TURNOVER_TARGET
    out.append(
        f"target: paper's test Sharpe >= long's: {fmt(p['sharpe'], '.2f')} vs "
        f"{fmt(lg['sharpe'], '.2f')} -> {'MET' if ok_sr else 'NOT MET'} (per year: at least "
        f"long's in {sum(per_year)} of {len(per_year)}); turnover <= "
        f"{TURNOVER_TARGET:.1f}/yr (a fifth of 14.6): {fmt(p['turn'], '.2f')} -> "
        f"{'MET' if ok_turn else 'NOT MET'}; against buy-and-hold: Sharpe "
        f"{fmt(p['sharpe'], '.2f')} vs {fmt(whole['hold']['sharpe'], '.2f')}, return "
        f"{fmt(p['ret'], '+.0%')} vs {fmt(whole['hold']['ret'], '+.0%')}; the old direction "
        f"policy: Sharpe {fmt(whole['calls']['sharpe'], '.2f')}, turnover "
        f"{fmt(whole['calls']['turn'], '.1f')}/yr"
    )
    return out


def main() -> None:
    t0 = time.monotonic()
    ohlc = load_ohlc()
    names = ("AAPL", "IBM", "MSFT")
    closes = pd.DataFrame({s: ohlc[s]["close"] for s in names}).dropna()
    opens = pd.DataFrame({s: ohlc[s]["open"] for s in names}).reindex(closes.index)
    bars = {s: ohlc[s].loc[closes.index] for s in names}
    panel, index = load_panel()
    panel = panel.dropna(axis=1, how="any")
    pbars = {s: pd.DataFrame({"close": panel[s]}) for s in panel.columns}
    sets = []
    for name, o, c, b, ix in (
        ("OHLC set (fills at the next open)", opens, closes, bars, None),
        ("skfolio panel (closes only: fills at the next close)", panel, panel, pbars, index),
    ):
        sigma = vol_forecast(b, pd.DatetimeIndex(c.index))
        calls = rule_calls(c)
        tilt, verdict = ranking_gate(c, ix)
        warm = c.index[250:]  # the indicators (SMA 200) and the forecast warm up
        sets.append(
            Data(name, o.loc[warm], c.loc[warm], sigma.loc[warm], calls.loc[warm], tilt, verdict)
        )
        print(f"{name}: prepared ({time.monotonic() - t0:.0f} s); {verdict}", flush=True)
    chosen, top = choose(sets)
    print(
        f"\nchosen on the validation years (OHLC set 2002-{VAL_END}, panel 1991-{VAL_END}) "
        f"from {len(GRID)} settings, by mean Sharpe after costs (best five):"
    )
    print("\n".join(top))
    print(f"=> [paper] {shown(chosen)}  ({time.monotonic() - t0:.0f} s)")
    for data in sets:
        print("\n".join(report(data, chosen)), flush=True)
    print(f"\n({time.monotonic() - t0:.0f} s)")


if __name__ == "__main__":
    main()
