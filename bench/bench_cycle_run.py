"""Benchmark: one prediction cycle for 100 symbols (features, every serving model, ensemble,
rules, plan, persist) after the models are trained. Target: <= 2 s.

Usage: .venv/bin/python bench/bench_cycle_run.py [--kinds xgboost,markov,...] [--symbols 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import config  # noqa: E402
from assistant.cycle import run_cycle  # noqa: E402
from assistant.sources.synthetic import synthetic_bars  # noqa: E402
from store import bars, symbols  # noqa: E402
from store.db import immediate, open_db  # noqa: E402

TARGET_S = 2.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--kinds", default="xgboost,markov", help="model kinds to train first ('' for rules only)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-cycle-")) / "home"
    db = open_db(home)
    settings = config.load(home)
    names = [f"S{i:03d}" for i in range(args.symbols)]
    symbols.add(db, names, "synthetic")
    with immediate(db):
        for i, sym in enumerate(names):
            bars.upsert(db, sym, synthetic_bars(800, seed=i, start="2021-01-04"), "synthetic")
    kinds = [k for k in args.kinds.split(",") if k]
    if kinds:
        from assistant.training import train

        t = time.perf_counter()
        train(db, home, settings, names[:10], kinds=kinds, as_of="2023-06-30")
        print(f"(setup) trained {','.join(kinds)} on 10 symbols in {time.perf_counter() - t:.1f} s")
    days = ["2023-12-01", "2023-12-04", "2023-12-05"]
    run_cycle(db, home, settings, as_of="2023-11-30")  # warm: imports, calendar, first regimes
    times = []
    for day in days:
        t = time.perf_counter()
        calls = run_cycle(db, home, settings, as_of=day)
        times.append(time.perf_counter() - t)
    served = sorted({c.model_version for c in calls})
    best = min(times)
    print(f"cycle, {args.symbols} symbols x {len(settings['models']['horizons'])} horizons "
          f"({len(calls)} calls, serving {', '.join(served)}): {best:.2f} s "
          f"(median {sorted(times)[1]:.2f} s, model loading included) "
          f"(target <= {TARGET_S} s) {'PASS' if best <= TARGET_S else 'FAIL'}"
          f"  [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
