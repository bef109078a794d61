"""Issue 35: the hour-ahead calls, measured walk-forward on simulated hourly bars.

No public package ships real hourly stock data, so the bars are simulated
(`assistant.ingest.sources.intraday.synthetic_hours`, whose docstring states the model):
independent hourly log returns whose variance follows a U-shaped per-hour profile
(relative variance 2.5, 1.2, 0.9, 0.8, 0.8, 1.0, 1.5 for the seven bars of a US session,
the last one half an hour; early closes take it stretched to their bar count) at the
day's volatility (Parkinson, from its range), drawn given the day's open-to-close move;
the overnight gap is the daily bar's own (previous close to open). The daily bars are
`synthetic_bars` with no planted edge (edge = 0.5: each day's sign is a coin flip), but
they open each day between the previous close and the close, so the overnight gap always
has the sign of the session after it; a trend over the gap foretells that session, which
the direction rows show. `--gap-apart` is the control: every gap keeps its size and takes
a coin-flip sign.

Every forecast at bar t uses bars up to t only (`models.intraday.forecasts`; the tests cut
the data at t and compare). The first WARMUP sessions of each symbol (the profile's and the
conformal pool's start) are not scored; every later call is. No constant of the rule or
the ranges was chosen on these data (they are stated in models/intraday.py).

Prints, per horizon (session hours): the 80% and 95% ranges' coverage per hour of the
session of the target bar, with the per-hour variance profile and with one flat variance,
against the targets 80% and 95% (+- 2 points); then the direction calls' hit rate next to
always-up, the causal majority and the last move on the same calls, with n, the paired
Newey-West p and the Holm verdict (models.metrics).

Run: python bench/bench_intraday.py [--symbols 10] [--sessions 750] [--gap-apart]
(about a minute)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from assistant import calendar  # noqa: E402
from assistant.ingest.sources.intraday import PROFILE, synthetic_hours  # noqa: E402
from assistant.ingest.sources.synthetic import synthetic_bars  # noqa: E402
from models import intraday, metrics, outcomes  # noqa: E402

HORIZONS = (1, 3, 5)
WARMUP = 100  # sessions per symbol before anything is scored
TOLERANCE = 0.02


def simulate(symbols: int, sessions: int, gap_apart: bool = False) -> dict[str, pd.DataFrame]:
    out = {}
    for i in range(symbols):
        daily = synthetic_bars(sessions, seed=100 + i, edge=0.5, start="2021-01-04")
        if gap_apart:
            daily = _gap_apart(daily, np.random.default_rng(900 + i))
        out[f"SIM{i}"] = synthetic_hours(daily, "XNYS", seed=100 + i)
    return out


def _gap_apart(daily: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The control run (--gap-apart): `synthetic_bars` opens each day between the previous
    close and the close, so the overnight gap always has the sign of the day's move (both
    are parts of one daily return) and a trend over the gap foretells the session. Here
    each gap keeps its size and takes a coin-flip sign (the range widened to the open)."""
    prev = daily["close"].shift(1).fillna(daily["open"].iloc[0]).to_numpy(float)
    gap = np.log(daily["open"].to_numpy(float) / prev)
    opens = prev * np.exp(gap * np.where(rng.random(len(daily)) < 0.5, -1.0, 1.0))
    out = daily.copy()
    out["open"] = opens
    out["high"] = np.maximum(out["high"].to_numpy(float), opens)
    out["low"] = np.minimum(out["low"].to_numpy(float), opens)
    return out


# the product, and the two ranges it is measured against: one variance and one conformal
# pool for every hour (the naive range), and one variance with a pool per hour
VARIANTS = {
    "profile": {"flat": False, "by_slot": True},
    "flat": {"flat": True, "by_slot": False},
    "flat+pools": {"flat": True, "by_slot": True},
}


def scored(bars: pd.DataFrame, grid: pd.DataFrame, h: int, variant: str) -> pd.DataFrame:
    f = intraday.forecasts(bars, grid, h, **VARIANTS[variant])
    b = intraday.bounds(f)
    start = bars["session"].drop_duplicates().iloc[WARMUP]
    keep = (bars["session"] >= start).to_numpy() & np.isfinite(f["realized"].to_numpy(float))
    r = f["realized"].to_numpy(float)
    return pd.DataFrame(
        {
            "as_of": pd.DatetimeIndex(f.index).tz_convert("UTC").tz_localize(None)[keep],
            "slot": f["target_slot"].to_numpy()[keep],
            "overnight": (f["target_session"].to_numpy() != bars["session"].to_numpy())[keep],
            "in80": ((r >= b["lower"]) & (r <= b["upper"]))[keep],
            "in95": ((r >= b["lower95"]) & (r <= b["upper95"]))[keep],
            "call": f["call"].to_numpy()[keep],
            "realized": r[keep],
            "majority": f["majority"].to_numpy()[keep],
            "last_move": f["last_move"].to_numpy()[keep],
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=750, help="daily bars per symbol")
    ap.add_argument(
        "--gap-apart",
        action="store_true",
        help="control: give each overnight gap a coin-flip sign (see _gap_apart)",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = simulate(args.symbols, args.sessions, args.gap_apart)
    first = min(b["session"].iloc[0] for b in data.values())
    last = max(b["session"].iloc[-1] for b in data.values())
    grid = calendar.bar_grid("XNYS", first, last + pd.Timedelta(days=14))
    print(
        f"simulated: {args.symbols} symbols x {args.sessions} weekdays of daily bars "
        f"({first.date()} .. {last.date()}), {sum(len(b) for b in data.values()):,} hourly "
        f"bars; per-hour variance profile {PROFILE.tolist()}; overnight gap = the daily "
        f"bar's own{' with a coin-flip sign (--gap-apart)' if args.gap_apart else ''}; first "
        f"{WARMUP} sessions per symbol not scored"
    )
    rows: list[dict[str, Any]] = []
    for h in HORIZONS:
        parts = {v: pd.concat([scored(b, grid, h, v) for b in data.values()]) for v in VARIANTS}
        print(f"\nh = {h} session hour(s): coverage by hour of the target bar (target 80 / 95)")
        print(f"{'hour':<6}{'n':>8}" + "".join(f"{v + ' 80/95':>20}" for v in VARIANTS))
        worst = dict.fromkeys(VARIANTS, 0.0)
        for slot in sorted(parts["profile"]["slot"].unique()):
            cells = []
            for v in VARIANTS:
                g = parts[v][parts[v]["slot"] == slot]
                c80, c95 = float(g["in80"].mean()), float(g["in95"].mean())
                worst[v] = max(worst[v], abs(c80 - 0.80), abs(c95 - 0.95))
                cells.append(f"{100 * c80:5.1f} / {100 * c95:4.1f}")
            n = int((parts["profile"]["slot"] == slot).sum())
            print(f"#{slot + 1:<5}{n:>8}" + "".join(f"{c:>20}" for c in cells))
        print(
            f"{'all':<6}{len(parts['profile']):>8}"
            + "".join(
                f"{100 * parts[v]['in80'].mean():>13.1f} / {100 * parts[v]['in95'].mean():4.1f}"
                for v in VARIANTS
            )
        )
        for v in VARIANTS:
            verdict = "meets" if worst[v] <= TOLERANCE else "misses"
            print(
                f"  {v}: worst hour {100 * worst[v]:.1f} pp off its level "
                f"({verdict} the +-{100 * TOLERANCE:.0f} pp target)"
            )
        p = parts["profile"]
        for name, part in (
            ("within the session", p[~p["overnight"]]),
            ("across the close", p[p["overnight"]]),
        ):
            hits = outcomes.hit(part["call"].to_numpy(object), part["realized"].to_numpy(float))
            called = np.isfinite(hits)
            r = part["realized"].to_numpy(float)
            up = outcomes.baseline_hit(1, r)[called]
            maj = outcomes.baseline_hit(part["majority"].to_numpy(int), r)[called]
            last = outcomes.baseline_hit(part["last_move"].to_numpy(int), r)[called]
            print(
                f"  direction, target {name}: hit {100 * np.mean(hits[called]):.1f}% of "
                f"{int(called.sum())} calls (always-up {100 * np.mean(up):.1f}%, majority "
                f"{100 * np.mean(maj):.1f}%, last move {100 * np.mean(last):.1f}%)"
            )
        m: dict[str, Any] = dict(
            metrics.directional(
                p["call"].to_numpy(object),
                p["realized"].to_numpy(float),
                majority=p["majority"].to_numpy(int),
                last_move=p["last_move"].to_numpy(int),
                h=h,
                dates=p["as_of"].to_numpy(),
            )
        )
        m["horizon"] = h
        rows.append(m)
    metrics.judge(rows)
    print(f"\ndirection ({intraday.MODEL_VERSION}), all symbols, on the same calls:")
    print(
        f"{'h':<4}{'n':>8}{'called':>8}{'hit':>8}{'always-up':>11}{'majority':>10}"
        f"{'last move':>11}{'p':>9}  verdict"
    )
    for m in rows:
        b = m["baselines"]

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.1f}%"

        p_text = "-" if m["p_value"] is None else f"{m['p_value']:.3g}"
        print(
            f"{m['horizon']:<4}{m['n']:>8}{pct(m['coverage']):>8}{pct(m['dir_accuracy']):>8}"
            f"{pct(b['always_up']['dir_accuracy']):>11}{pct(b['majority']['dir_accuracy']):>10}"
            f"{pct(b['last_move']['dir_accuracy']):>11}{p_text:>9}  "
            f"{metrics.verdict_text(m, m['stronger_baseline'].replace('_', '-'))}"
        )
    print(
        f"\n({time.perf_counter() - t0:.0f} s; the test: {outcomes.__name__} hit rules, "
        f"paired Newey-West p against the stronger baseline, Holm over the rows)"
    )


if __name__ == "__main__":
    main()
