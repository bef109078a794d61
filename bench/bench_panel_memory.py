"""Peak memory of what `train` reads before it fits anything, at scale: synthetic bars for
N symbols x Y years (synthetic_bars on one business-day calendar), the usable panel
(features, targets, the screen for values no model can take), the evaluation split and
the walk-forward split capped at [models] max_train_rows, as `train` builds them. Peak
RSS from resource.getrusage after each stage (it only grows). With --old DIR, the same in
a fresh process on an older checkout, alternating, and a digest of every array each side
built (equal digests: identical values).

Target (issue 34): the whole `train` of the default set on 500 symbols x 20 years in
<= 2 GB; this bench measures the part before the fits, where the panel is built.

    python bench/bench_panel_memory.py [--symbols 500] [--years 20] [--old DIR] [--runs 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 2048


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(symbols: int, years: int) -> None:
    import numpy as np
    import pandas as pd

    from assistant.ingest.sources.synthetic import synthetic_bars
    from assistant.modeling import usable
    from models import dataset

    n = years * 252
    days = pd.bdate_range("2005-01-03", periods=n)
    bars = {}
    for i in range(symbols):
        b = synthetic_bars(n, seed=i, edge=0.52)
        b.index = days
        bars[f"S{i:03d}"] = b
    print(f"  bars   peak {peak_mb():6.0f} MB", flush=True)
    cpu = time.process_time()
    bars, data, _ = usable.usable_panel(bars, (1, 3, 5))
    assert data is not None
    print(f"  panel  peak {peak_mb():6.0f} MB  ({len(data.X):,} rows)", flush=True)
    cap = 500_000
    split = dataset.split(dataset.recent(data, cap))
    walk = dataset.walk_split(data, max_rows=cap)
    cpu = time.process_time() - cpu
    peak = peak_mb()
    print(f"  splits peak {peak:6.0f} MB", flush=True)
    h = hashlib.sha256()
    for part in (data, split.train, split.val, split.test, walk.train, walk.val):
        for frame in (part.X, part.Y):
            for col in frame.columns:
                h.update(np.ascontiguousarray(frame[col].to_numpy()).tobytes())
        h.update(part.rows.tobytes())
    print(f"RESULT {peak:.0f} {cpu:.1f} {h.hexdigest()[:16]}")


def run(code: Path, symbols: int, years: int) -> tuple[float, float, str]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(symbols), str(years)]
    out = subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True, check=True)
    print(out.stdout.rsplit("RESULT", 1)[0], end="")
    peak, cpu, digest = out.stdout.rsplit("RESULT", 1)[1].split()
    return float(peak), float(cpu), digest


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--old", type=Path, help="an older checkout to compare with")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    print(
        f"synthetic_bars: {args.symbols} symbols x {args.years} years; the panel and splits "
        f"`train` builds before fitting (max_train_rows 500,000)"
    )
    sides = {**({"old": args.old.resolve()} if args.old else {}), "new": ROOT}
    got: dict[str, list[tuple[float, float, str]]] = {k: [] for k in sides}
    for r in range(args.runs):
        for name, code in sides.items():
            print(f"{name} run {r + 1} (load {os.getloadavg()[0]:.1f}):", flush=True)
            got[name].append(run(code, args.symbols, args.years))
    for name, rs in got.items():
        peak = statistics.median(x[0] for x in rs)
        within = "within" if peak <= TARGET_MB else "over"
        print(
            f"{name}: read stage peak RSS {peak:.0f} MB, {within} the whole train's target "
            f"of {TARGET_MB} MB (the fits not measured here); "
            f"{statistics.median(x[1] for x in rs):.1f} CPU s; digest {rs[0][2]}"
        )
    if "old" in got:
        same = {x[2] for rs in got.values() for x in rs}
        print(f"identical values: {len(same) == 1}")
    print(f"[load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
