"""Benchmark: one prediction cycle for 100 symbols (features, every serving model, ensemble,
rules, plan, persist) after the models are loaded. Target: <= 2 s.

Setup trains EVERY default kind (lstm, gru, transformer, xgboost, markov, rules, and the
ensemble over them) on 10 symbols with few epochs (the cycle's cost does not depend on how
long the networks were trained). Model loading is timed on its own; each timed cycle runs
on a distinct as_of date so it does the full work (the ledger is idempotent per date).

Usage: .venv/bin/python bench/bench_cycle_run.py [--kinds lstm,gru,...] [--symbols 100] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import config  # noqa: E402
from assistant.cycle.run import run_cycle  # noqa: E402
from assistant.ingest.sources.synthetic import synthetic_bars  # noqa: E402
from assistant.modeling import serving as forecasting  # noqa: E402
from store import bars, symbols  # noqa: E402
from store.db import immediate, open_db  # noqa: E402

TARGET_S = 2.0
DAYS = [date(2023, 12, d) for d in (1, 4, 5, 6, 7)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument(
        "--kinds",
        default=",".join(config.Models().kinds),
        help="model kinds to train first ('' for rules only); default: every default kind",
    )
    ap.add_argument(
        "--epochs", type=int, default=2, help="training epochs of the networks (setup only)"
    )
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-cycle-")) / "home"
    db = open_db(home)
    settings = config.load(home)
    settings = settings.replace("models", epochs=args.epochs)
    names = [f"S{i:03d}" for i in range(args.symbols)]
    symbols.add(db, names, "synthetic")
    with immediate(db):
        for i, sym in enumerate(names):
            bars.upsert(db, sym, synthetic_bars(800, seed=i, start="2021-01-04"), "synthetic")
    kinds = [k for k in args.kinds.split(",") if k]
    if kinds:
        from assistant.modeling.training import train

        t = time.perf_counter()
        report = train(db, home, settings, names[:10], kinds=kinds, as_of=date(2023, 6, 30))
        status = ", ".join(f"{r.kind}:{r.status}" for r in report.results)
        print(
            f"(setup) trained {len(report.results)} models ({status}) on 10 symbols, "
            f"{args.epochs} epochs, in {time.perf_counter() - t:.1f} s"
        )
    # Loading: from disk (checksums, torch/xgboost deserialization), then from the cache.
    colds = []
    for _ in range(3):
        forecasting.clear_cache()
        t = time.perf_counter()
        serving = forecasting.load_serving(db, home)
        colds.append(time.perf_counter() - t)
    t = time.perf_counter()
    forecasting.load_serving(db, home)
    warm = time.perf_counter() - t
    print(
        f"model loading: {statistics.median(colds) * 1000:.0f} ms from disk, median of 3 "
        f"({len(serving.models)} serving: {', '.join(sorted(serving.models))}); "
        f"{warm * 1000:.1f} ms when cached"
    )
    # warm: imports, calendar, first regimes
    run_cycle(db, home, settings, as_of=date(2023, 11, 30))
    times = []
    for day in DAYS:
        t = time.perf_counter()
        calls = run_cycle(db, home, settings, as_of=day)
        times.append(time.perf_counter() - t)
        assert all(c.new for c in calls), "a timed cycle hit the idempotent no-op"
    served = sorted({c.model_version for c in calls})
    median = statistics.median(times)
    print(
        f"cycle, {args.symbols} symbols x {len(settings.models.horizons)} horizons "
        f"({len(calls)} calls, serving {', '.join(served)}), models loaded: median {median:.2f} s "
        f"over {len(times)} dates (min {min(times):.2f}, max {max(times):.2f}) "
        f"(target <= {TARGET_S} s) {'PASS' if median <= TARGET_S else 'FAIL'}"
        f"  [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
