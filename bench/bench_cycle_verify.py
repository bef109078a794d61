"""Benchmark: verification of 100k matured predictions (score, weights, calibration, one
transaction). Target: <= 1 s.

Usage: .venv/bin/python bench/bench_cycle_verify.py [--n 100000] [--cache DIR] [--profile]

--cache DIR keeps the built home in DIR and starts each run from a copy of it, so runs of
two revisions can alternate on one backlog (the build takes longer than the pass);
--profile prints cProfile's top entries and the time of each SQL statement of the pass.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import config  # noqa: E402
from assistant.cycle.learn import verify  # noqa: E402
from assistant.ingest.sources.synthetic import synthetic_bars  # noqa: E402
from store import bars, symbols  # noqa: E402
from store import predictions as ledger  # noqa: E402
from store.db import immediate, open_db  # noqa: E402

TARGET_S = 1.0


def build(home: Path, n: int) -> str:
    """A home with `n` matured calls (100 symbols); returns the verification day."""
    db = open_db(home)
    n_sym = 100
    per = n // n_sym
    names = [f"S{i:03d}" for i in range(n_sym)]
    symbols.add(db, names, "synthetic")
    rng = np.random.default_rng(0)
    regimes = np.array(["bullish", "bearish", "volatile", "sideways"])
    with immediate(db):
        for i, sym in enumerate(names):
            frame = synthetic_bars(per + 2, seed=i, start="2015-01-05")
            bars.upsert(db, sym, frame, "synthetic")
            dates = pd.DatetimeIndex(frame.index).strftime("%Y-%m-%d")
            close = frame["close"].to_numpy()
            rows = []
            for t in range(per):
                votes = {
                    k: float(v)
                    for k, v in zip(
                        ("rsi", "macd", "cross", "regime", "drift"),
                        rng.choice([-1.0, 0.0, 1.0], 5),
                        strict=True,
                    )
                }
                info = {
                    "votes": votes,
                    "flat_band": 0.002,
                    "raw_confidence": float(rng.uniform(0.35, 0.6)),
                    "last_move": "up",
                    "contributions": {},
                }
                rows.append(
                    ledger.CallRow(
                        symbol=sym,
                        as_of=dates[t],
                        horizon=1,
                        model_version="signals-v1",
                        made_at="2015-01-01T00:00:00+00:00",
                        target_date=dates[t + 1],
                        base_price=float(close[t]),
                        pred_change_pct=0.1,
                        pred_price=float(close[t]) * 1.001,
                        lower=float(close[t]) * 0.99,  # the 80% range
                        upper=float(close[t]) * 1.01,
                        lower95=float(close[t]) * 0.98,  # the 95% range
                        upper95=float(close[t]) * 1.02,
                        vol_sigma=0.008,
                        p_up=0.45,
                        p_flat=0.1,
                        p_down=0.45,
                        direction="up" if rng.random() < 0.5 else "down",
                        confidence=0.45,
                        regime=str(rng.choice(regimes)),
                        signals=json.dumps(info),
                    )
                )
            ledger.insert_many(db, rows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return pd.Timestamp(dates[-1]).strftime("%Y-%m-%d")


class _Timed:
    """The connection, with each statement's wall time kept (--profile)."""

    def __init__(self, conn: sqlite3.Connection, times: list[tuple[float, str]]):
        self._conn, self._times = conn, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _timed(self, method: str, sql: str, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = getattr(self._conn, method)(sql, *args)
        if method == "execute" and sql.lstrip().upper().startswith("SELECT"):
            out = _Fetched(out.fetchall(), out.description, out.rowcount)
        self._times.append((time.perf_counter() - t0, " ".join(sql.split())[:110]))
        return out

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed("execute", sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed("executemany", sql, *args)


class _Fetched:
    def __init__(self, rows: list[Any], description: Any, rowcount: int):
        self._rows, self.description, self.rowcount = rows, description, rowcount

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Any:
        return iter(self._rows)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--cache", type=Path, help="keep the built home here and copy it per run")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-verify-")) / "home"
    if args.cache is not None:
        stamp = args.cache / f"n{args.n}"
        if not (stamp / "day").exists():
            shutil.rmtree(stamp, ignore_errors=True)
            day = build(stamp / "home", args.n)
            (stamp / "day").write_text(day)
        shutil.copytree(stamp / "home", home)
        last = (stamp / "day").read_text()
    else:
        last = build(home, args.n)
    db = open_db(home)
    settings = config.load(home)
    times: list[tuple[float, str]] = []
    prof = cProfile.Profile() if args.profile else None
    if args.profile:
        db.conn = _Timed(db.conn, times)  # type: ignore[assignment]
    t0, cpu = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    report = verify(db, settings, as_of=last)
    if prof:
        prof.disable()
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        print("SQL statements of the pass, slowest first:")
        for t, sql in sorted(times, reverse=True)[:12]:
            print(f"  {t * 1000:8.1f} ms  {sql}")
    print(
        f"verify {report.verified:,} matured predictions ({len(report.weight_changes)} weight changes, "
        f"{report.expired} expired): {took:.2f} s wall, {cpu:.2f} s CPU = {report.verified / took:,.0f}/s "
        f"(target <= {TARGET_S} s) {'PASS' if took <= TARGET_S else 'FAIL'}"
        f"  [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"
    )
    db.close()
    shutil.rmtree(home.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
