"""Benchmark: the ranges' multipliers of one cycle, from a checkpoint vs a full replay.

A real SQLite ledger holds 100 symbols x 3 horizons (1, 3, 5) x 2 years (504 sessions) of
verified calls with a volatility forecast (~151k rows), and the next sessions' calls
pending. Timed:
- full: `assistant.cycle.ranges.read` with no checkpoint (what every cycle did before:
  replay every verified outcome), then the write of its checkpoints;
- incremental: each of the next DAYS cycles after one more session's pending calls were
  verified (`store.predictions.mark_verified`, as `verify` does): the read (load the
  checkpoint, feed the new session) and the write of the new checkpoint, as a cycle's
  write phase does it.
Every incremental cycle is checked to have resumed (the checkpoints survived the verify)
and to give the multipliers of a full replay (the same read with the checkpoints out of
the way). The state's cost follows symbols x horizons (about 0.2 ms each to load and
save), not the ledger's length.

Target: the incremental read plus write <= 100 ms (the full replay is seconds).

Usage: .venv/bin/python bench/bench_ranges_state.py [--symbols 100] [--sessions 504]
(about a minute on 2 loaded cores)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.cycle import ranges  # noqa: E402
from store import predictions as ledger  # noqa: E402
from store import range_states  # noqa: E402
from store.db import immediate, open_db  # noqa: E402

TARGET_S = 0.100
HORIZONS = [1, 3, 5]
DAYS = 5


def _rows(names: list[str], days: list[str], first: int, last: int, rng: np.random.Generator):
    """Calls whose target is days[first:last], each made h sessions before, with their
    realized close."""
    out = []
    for i in range(first, last):
        for h in HORIZONS:
            if i < h:
                continue
            sigma = 0.01 * h**0.5
            for sym in names:
                r = rng.standard_t(4) * sigma * 0.8
                out.append((sym, days[i - h], h, days[i], sigma, 100.0 * np.exp(r)))
    return out


def _insert(db, rows, status: str) -> None:
    with immediate(db):
        db.conn.executemany(
            "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, "
            "target_date, base_price, pred_change_pct, pred_price, direction, signals, status, "
            "vol_sigma, actual_price) VALUES (?, ?, ?, 'm', ?, ?, 100, 0, 100, 'flat', '{}', "
            "?, ?, ?)",
            [
                (s, a, h, a, t, status, v, p if status == "verified" else None)
                for s, a, h, t, v, p in rows
            ],
        )


def _verify(db, rows) -> None:
    """What `verify` writes for these calls (store.predictions.mark_verified, one pass)."""
    ids = {
        (s, a, h): i
        for i, s, a, h in db.execute(
            "SELECT id, symbol, as_of, horizon FROM predictions WHERE status = 'pending'"
        )
    }
    with immediate(db):
        ledger.mark_verified(
            db,
            [ledger.Verdict(p, 0.0, None, "flat", 0, 0, None, None, "2025-01-01T00:00:00+00:00",
                            ids[(s, a, h)])
             for s, a, h, _, _, p in rows],
        )  # fmt: skip


def _save(db, got: ranges.Ranges) -> None:
    with immediate(db):
        range_states.save(db, got.checkpoints)


def _full(db, names: list[str]) -> dict:
    """A full replay: the same read with the checkpoints out of the way (rolled back)."""
    db.execute("BEGIN")
    try:
        db.execute("DELETE FROM range_states")
        return ranges.read(db, names, HORIZONS, None).q
    finally:
        db.execute("ROLLBACK")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--sessions", type=int, default=504)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-ranges-state-")) / "home"
    db = open_db(home)
    names = [f"S{i:03d}" for i in range(args.symbols)]
    days = [
        d.strftime("%Y-%m-%d")
        for d in pd.bdate_range("2023-01-02", periods=args.sessions + DAYS + 1)
    ]
    rng = np.random.default_rng(0)
    with immediate(db):
        db.conn.executemany(
            "INSERT INTO symbols (symbol, added_at) VALUES (?, '2023-01-01')",
            [(s,) for s in names],
        )
    _insert(db, _rows(names, days, 0, args.sessions, rng), "verified")
    later = [_rows(names, days, i, i + 1, rng) for i in range(args.sessions, args.sessions + DAYS)]
    _insert(db, [r for day in later for r in day], "pending")  # made, not matured yet
    n = db.execute("SELECT COUNT(*) FROM predictions WHERE status = 'verified'").fetchone()[0]
    print(
        f"ledger: {n} verified calls ({args.symbols} symbols x {HORIZONS} x {args.sessions} sessions)"
    )

    t = time.perf_counter()
    got = ranges.read(db, names, HORIZONS, None)
    full_read = time.perf_counter() - t
    t = time.perf_counter()
    _save(db, got)
    full_write = time.perf_counter() - t
    size = db.execute("SELECT SUM(length(state)) FROM range_states").fetchone()[0]
    print(
        f"full replay: read {1000 * full_read:.0f} ms ({1e6 * full_read / n:.1f} µs a verified "
        f"call), checkpoint write {1000 * full_write:.0f} ms ({size / 1e6:.1f} MB of JSON)"
    )

    reads, writes = [], []
    for day in later:
        _verify(db, day)  # one more session's outcomes verified
        if db.execute("SELECT COUNT(*) FROM range_states").fetchone()[0] != len(HORIZONS):
            print("FAIL: a new session's outcomes voided the checkpoints", file=sys.stderr)
            return 1
        t = time.perf_counter()
        got = ranges.read(db, names, HORIZONS, None)
        reads.append(time.perf_counter() - t)
        t = time.perf_counter()
        _save(db, got)
        writes.append(time.perf_counter() - t)
        if len(got.checkpoints) != len(HORIZONS):
            print("FAIL: the incremental read did not move every checkpoint", file=sys.stderr)
            return 1
        if got.q != _full(db, names):
            print("FAIL: incremental multipliers differ from a full replay", file=sys.stderr)
            return 1
    read_ms, write_ms = 1000 * statistics.median(reads), 1000 * statistics.median(writes)
    total = statistics.median(reads) + statistics.median(writes)
    print(
        f"incremental (one new session, median of {DAYS}): read {read_ms:.0f} ms + write "
        f"{write_ms:.0f} ms = {1000 * total:.0f} ms; equal to a full replay on every cycle"
    )
    ok = total <= TARGET_S
    print(f"target incremental <= {1000 * TARGET_S:.0f} ms: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
