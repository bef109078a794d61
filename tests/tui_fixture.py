"""Fixed, deterministic store contents for the TUI's tests, snapshots, screenshot and benchmark.

Written through the store modules (symbols, bars, jobs) and plain SQL for the tables whose
writers belong to other areas (predictions, regimes, the daemon row), so the TUI can be
built and tested without a daemon. Same arguments, same database, byte for byte.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlite_utils

from models import outcomes
from store import bars, jobs, rankings, symbols

FIXED_NOW = datetime(2018, 6, 29, 21, 0, 0, tzinfo=UTC)
SIGNALS = ("rsi", "macd", "cross", "regime")


def weekdays(end: str, n: int) -> list[str]:
    out, d = [], date.fromisoformat(end)
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d -= timedelta(days=1)
    return out[::-1]


def add_weekdays(day: str, n: int) -> str:
    d = date.fromisoformat(day)
    while n:
        d += timedelta(days=1)
        n -= d.weekday() < 5
    return d.isoformat()


def fill(
    db: sqlite_utils.Database,
    names: tuple[str, ...] = ("^GSPC", "^IXIC", "AAPL"),
    *,
    sessions: int = 160,
    end: str = "2018-06-29",
    predict_last: int = 100,
    horizons: tuple[int, ...] = (1, 5),
    seed: int = 7,
    daemon: str | None = "replay",
    heartbeat_age_s: float = 2.0,
    job: bool = True,
) -> None:
    """Watchlist, bars, regimes, predictions (verified and pending), a running job, the daemon."""
    rng = random.Random(seed)
    days = weekdays(end, sessions)
    symbols.add(db, list(names), "sample")
    pred_rows, regime_rows = [], []
    for k, sym in enumerate(names):
        price, closes = 100.0 + 37 * k, []
        for _ in days:
            price *= 1 + rng.gauss(0.0004, 0.011)
            closes.append(round(price, 2))
        frame = pd.DataFrame(
            {
                "open": closes,
                "high": [c * 1.005 for c in closes],
                "low": [c * 0.995 for c in closes],
                "close": closes,
                "volume": 1e6,
                "raw_close": closes,
                "adj_factor": 1.0,
                "provisional": 0,
                "flagged": 0,
            },
            index=pd.to_datetime(days),
        )
        with db.conn:
            bars.upsert(db, sym, frame, "sample")
        by_day = dict(zip(days, closes, strict=True))
        for i, d in enumerate(days):
            trend = closes[i] / closes[max(0, i - 20)] - 1
            label = "bullish" if trend > 0.02 else "bearish" if trend < -0.02 else "sideways"
            regime_rows.append((sym, d, label, round(trend, 4), 0.18))
        for d in days[-predict_last:]:
            base = by_day[d]
            for h in horizons:
                change = round(rng.gauss(0.05, 0.6), 3)
                direction = "up" if change > 0.1 else "down" if change < -0.1 else "flat"
                target = add_weekdays(d, h)
                actual = by_day.get(target)
                lo80, hi80 = round(base * 0.98, 2), round(base * 1.02, 2)
                lo95, hi95 = round(base * 0.97, 2), round(base * 1.03, 2)
                cov80 = None if actual is None else int(lo80 <= actual <= hi80)
                cov95 = None if actual is None else int(lo95 <= actual <= hi95)
                # scored by the one set of outcome rules, as `verify` would
                r = None if actual is None else math.log(actual / base)
                hit = None if r is None else _int(outcomes.hit([direction], [r])[0])
                up_hit = None if r is None else _int(outcomes.baseline_hit(1, [r])[0])
                sig = {
                    s: {"vote": v, "weight": 1.0, "contribution": v}
                    for s, v in zip(
                        SIGNALS, (rng.choice((-1, 0, 1)) * 0.5 for _ in SIGNALS), strict=True
                    )
                }
                pred_rows.append(
                    (
                        sym,
                        d,
                        h,
                        "ensemble-3" if h == 1 else "rules",
                        f"{d}T21:00:00+00:00",
                        target,
                        base,
                        change,
                        round(base * (1 + change / 100), 2),
                        lo80,
                        hi80,
                        0.4,
                        0.2,
                        0.4,
                        direction,
                        round(0.5 + abs(change) / 4, 2),
                        "sideways",
                        json.dumps(sig),
                        "pending" if actual is None else "verified",
                        actual,
                        None
                        if actual is None
                        else round((base * (1 + change / 100) / actual - 1) * 100, 3),
                        hit,
                        up_hit,
                        up_hit,  # the causal majority was up in this rising sample
                        None if actual is None else f"{target}T21:30:00+00:00",
                        lo95,
                        hi95,
                        cov80,
                        cov95,
                    )
                )
    with db.conn:
        db.conn.executemany(
            "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, target_date, "
            "base_price, pred_change_pct, pred_price, lower, upper, p_up, p_flat, p_down, direction, "
            "confidence, regime, signals, status, actual_price, error_pct, hit, up_hit, "
            "majority_hit, verified_at, lower95, upper95, covered80, covered95) VALUES ("
            + ",".join("?" * 29)
            + ")",
            pred_rows,
        )
        db.conn.executemany(
            "INSERT INTO regimes (symbol, date, regime, trend, volatility) VALUES (?, ?, ?, ?, ?)",
            regime_rows,
        )
    if len(names) >= 5:  # the ranking model ranks 5 or more symbols: its newest ranks
        last = days[-1]
        with db.conn:
            rankings.upsert_many(
                db,
                [
                    (sym, last, h, "ranking-v1", k + 1, len(names), 0.004 - 0.002 * k)
                    for k, sym in enumerate(names)
                    for h in horizons
                ],
            )
    if job:
        run = jobs.start(db, "train")
        jobs.progress(db, run, 0.45, "lstm epoch 14/30")
        with db.conn:
            db.execute(
                "UPDATE job_runs SET started_at = ? WHERE id = ?",
                [(FIXED_NOW - timedelta(seconds=40)).isoformat(), run],
            )
    if daemon:
        beat = (FIXED_NOW - timedelta(seconds=heartbeat_age_s)).isoformat()
        with db.conn:
            db.execute(
                "INSERT OR REPLACE INTO daemon (id, pid, started_at, heartbeat_at, stopped_at, "
                "mode, sim_date, version) VALUES (1, 4242, ?, ?, NULL, ?, ?, '0.1.0')",
                [beat, beat, daemon, end if daemon == "replay" else None],
            )


def screen_text(app) -> str:
    """The current screen as plain text, exactly as composited (what a user would read)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


async def settle(pilot, rounds: int = 3) -> None:
    """Let workers finish and their messages land (no sleeps, no timing guesses)."""
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a read superseded by a newer one (exclusive group): nothing to wait for
        await pilot.pause()


async def wait_for(pilot, predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll the running app until `predicate()` holds (for changes made by another process).

    The give-up bound stretches with the machine's load (see daemon_fixture.load_factor).
    """
    import time

    from tests.daemon_fixture import load_factor

    end = time.monotonic() + timeout * load_factor()
    while time.monotonic() < end:
        await settle(pilot, 1)
        if predicate():
            return True
        await pilot.pause(step)
    return predicate()


def sync(fn):
    """Run an async Pilot test with asyncio.run (the project has no async pytest plugin)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def _int(x: float) -> int | None:
    return None if math.isnan(x) else int(x)
