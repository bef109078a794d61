"""Benchmark: verification of 100k matured predictions (score, weights, calibration, one
transaction). Target: <= 2 s.

Usage: .venv/bin/python bench/bench_cycle_verify.py [--n 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import config  # noqa: E402
from assistant.cycle.learn import verify  # noqa: E402
from assistant.ingest.sources.synthetic import synthetic_bars  # noqa: E402
from store import bars, symbols  # noqa: E402
from store import predictions as ledger  # noqa: E402
from store.db import immediate, open_db  # noqa: E402

TARGET_S = 2.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-verify-")) / "home"
    db = open_db(home)
    settings = config.load(home)
    n_sym = 100
    per = args.n // n_sym
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
                    (
                        sym,
                        dates[t],
                        1,
                        "signals-v1",
                        "2015-01-01T00:00:00+00:00",
                        dates[t + 1],
                        float(close[t]),
                        0.1,
                        float(close[t]) * 1.001,
                        float(close[t]) * 0.99,  # the 80% range
                        float(close[t]) * 1.01,
                        float(close[t]) * 0.98,  # the 95% range
                        float(close[t]) * 1.02,
                        0.008,  # vol_sigma
                        0.45,
                        0.1,
                        0.45,
                        "up" if rng.random() < 0.5 else "down",
                        0.45,
                        str(rng.choice(regimes)),
                        json.dumps(info),
                    )
                )
            ledger.insert_many(db, rows)
    last = pd.Timestamp(dates[-1]).strftime("%Y-%m-%d")
    t0, cpu = time.perf_counter(), time.process_time()
    report = verify(db, settings, as_of=last)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu
    print(
        f"verify {report.verified:,} matured predictions ({len(report.weight_changes)} weight changes, "
        f"{report.expired} expired): {took:.2f} s wall, {cpu:.2f} s CPU = {report.verified / took:,.0f}/s "
        f"(target <= {TARGET_S} s) {'PASS' if took <= TARGET_S else 'FAIL'}"
        f"  [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
