"""TUI start-up benchmark: `python -m tui` from process start to the first full paint.

Runs `python -m tui --first-paint` (headless, 160x46) on a home of 100 symbols and ~100k
predictions, and measures wall time from just before the process is spawned to the
moment the dashboard, with its first snapshot, has been painted (the process prints that
moment). Two figures, each the median (and worst) of several runs:
- before: pandas/numpy importable (TUI_KEEP_DATAFRAMES=1 turns off `without_dataframes()`),
  so sqlite-utils pulls them in;
- after: as shipped, with pandas/numpy blocked in the TUI process.
Target: <= 1 s. Run: .venv/bin/python bench/bench_tui_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.db import open_db  # noqa: E402
from tests.tui_fixture import fill  # noqa: E402

TARGET_S = 1.0
N_SYMBOLS = 100


def build(home: Path) -> int:
    db = open_db(home)
    fill(db, tuple(f"S{i:03d}" for i in range(N_SYMBOLS)), sessions=400, predict_last=334)
    n = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    db.close()
    return n


def start_to_paint(home: Path, keep_dataframes: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "TUI_KEEP_DATAFRAMES"}
    if keep_dataframes:
        env["TUI_KEEP_DATAFRAMES"] = "1"
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "tui", "--home", str(home), "--first-paint"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    painted = [line for line in out.splitlines() if line.startswith("first-paint ")]
    if not painted:
        raise SystemExit(f"no first-paint line in the output:\n{out}")
    return float(painted[-1].split()[1]) - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        n = build(home)
        print(f"home: {N_SYMBOLS} symbols, {n} predictions; {args.runs} runs each, after a warm-up")
        start_to_paint(home, False)  # warm the OS file cache for both variants
        start_to_paint(home, True)
        for label, keep in (("before (pandas/numpy importable)", True), ("after (blocked)", False)):
            times = [start_to_paint(home, keep) for _ in range(args.runs)]
            med, worst = statistics.median(times), max(times)
            verdict = "meets" if med <= TARGET_S else "MISSES"
            print(
                f"python -m tui, process start to first full paint, {label}: "
                f"median {med * 1000:.0f} ms, worst {worst * 1000:.0f} ms "
                f"(target <= {TARGET_S * 1000:.0f} ms: {verdict})"
            )


if __name__ == "__main__":
    main()
