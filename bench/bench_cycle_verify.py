"""Benchmark: verification of 100k matured predictions (score, weights, calibration, one
transaction). Target: <= 1 s.

Usage: .venv/bin/python bench/bench_cycle_verify.py [--n 100000] [--cache DIR]
           [--runs 3] [--old CHECKOUT] [--profile]

Each pass runs in a fresh process from a copy of one built backlog (--cache DIR keeps it
between invocations; the build takes longer than the pass). The first run builds it, in
its own revision's schema (with --old, the older one's; the newer revision migrates its
copy). With --old (a checkout of an older revision, e.g. `git worktree add --detach
/tmp/main-old main`, run with this checkout's venv) the two revisions' passes alternate,
--runs times each, on the same backlog; it prints each run, the medians of wall and CPU
seconds before and after, the load average over the runs, and this checkout's median
wall time against the target.
--profile makes one pass in this process and prints cProfile's top entries and the wall
and CPU time of each SQL statement of the pass.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# `--src CHECKOUT` (what --old passes to a run's process): import that checkout's code
SRC = Path(sys.argv[sys.argv.index("--src") + 1]) if "--src" in sys.argv else ROOT
sys.path.insert(0, str(SRC))

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

    def __init__(self, conn: sqlite3.Connection, times: list[tuple[float, float, str]]):
        self._conn, self._times = conn, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _timed(self, method: str, sql: str, *args: Any) -> Any:
        t0, cpu = time.perf_counter(), time.process_time()
        out = getattr(self._conn, method)(sql, *args)
        if method == "execute" and sql.lstrip().upper().startswith("SELECT"):
            out = _Fetched(out.fetchall(), out.description, out.rowcount)
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu
        self._times.append((took, cpu, " ".join(sql.split())[:100]))
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


def cached(cache: Path, n: int) -> tuple[Path, str]:
    """(the built backlog's home, the day to verify as of), built once per size."""
    stamp = cache / f"n{n}"
    if not (stamp / "day").exists():
        shutil.rmtree(stamp, ignore_errors=True)
        day = build(stamp / "home", n)
        (stamp / "day").write_text(day)
    return stamp / "home", (stamp / "day").read_text()


def one_pass(built: Path, day: str, profile: bool) -> dict[str, float]:
    """One verify pass on a copy of `built`: wall and CPU seconds, calls verified."""
    home = Path(tempfile.mkdtemp(prefix="bench-verify-")) / "home"
    shutil.copytree(built, home)
    db = open_db(home)
    settings = config.load(home)
    times: list[tuple[float, float, str]] = []
    prof = cProfile.Profile() if profile else None
    if profile:
        db.conn = _Timed(db.conn, times)  # type: ignore[assignment]
    t0, cpu = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    report = verify(db, settings, as_of=date.fromisoformat(day))  # (a session is a date)
    if prof:
        prof.disable()
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        print("SQL statements of the pass, slowest first (wall, CPU):")
        for t, c, sql in sorted(times, reverse=True)[:12]:
            print(f"  {t * 1000:8.1f} ms {c * 1000:8.1f} ms  {sql}")
        print(
            f"verify {report.verified:,} matured predictions ({len(report.weight_changes)} "
            f"weight changes, {report.expired} expired): {took:.2f} s wall, {cpu:.2f} s CPU "
            f"(under the profiler)  [load average {os.getloadavg()[0]:.1f}]"
        )
    db.close()
    shutil.rmtree(home.parent, ignore_errors=True)
    return {"wall": took, "cpu": cpu, "verified": float(report.verified)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--cache", type=Path, help="keep the built backlog here between invocations")
    ap.add_argument("--runs", type=int, default=3, help="passes per revision (default 3)")
    ap.add_argument("--old", type=Path, help="an older checkout to alternate with")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--src", type=Path, help=argparse.SUPPRESS)  # read before the imports
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a run's process
    args = ap.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-verify-cache-"))
    if args.profile or args.one:
        # built by the first run's revision: with --old, the older one, so a newer schema
        # step (a migration the older checkout does not know) never reaches its copy
        built, day = cached(cache, args.n)
        got = one_pass(built, day, args.profile)
        if args.one:
            print(json.dumps(got))
        return 0
    revisions = [("after (this checkout)", ROOT)]
    if args.old is not None:
        revisions.insert(0, (f"before ({args.old})", args.old.resolve()))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in revisions}
    loads = []
    for i in range(args.runs):
        for name, src in revisions:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--one", "--src", str(src)]
            cmd += ["--cache", str(cache), "--n", str(args.n)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            got = json.loads(out.strip().splitlines()[-1])
            loads.append(os.getloadavg()[0])
            runs[name].append(got)
            print(
                f"run {i + 1} {name}: {got['wall']:.2f} s wall, {got['cpu']:.2f} s CPU "
                f"({int(got['verified']):,} verified)  [load average {loads[-1]:.1f}]",
                flush=True,
            )
    print(
        f"verify of a {args.n:,}-call backlog, medians of {args.runs} alternating run(s), "
        f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores:"
    )
    for name, _ in revisions:
        walls = statistics.median(r["wall"] for r in runs[name])
        cpus = statistics.median(r["cpu"] for r in runs[name])
        print(f"  {name}: {walls:.2f} s wall, {cpus:.2f} s CPU")
    mine = statistics.median(r["wall"] for r in runs[revisions[-1][0]])
    print(f"target <= {TARGET_S} s wall: {'PASS' if mine <= TARGET_S else 'FAIL'} ({mine:.2f} s)")
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
