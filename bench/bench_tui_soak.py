"""TUI soak: the dashboard left open while the daemon writes, as a person leaves it for days.

A real SQLite home (20 symbols, ~20k calls), the real app headless under Pilot. Another
connection commits a change (a new close, a heartbeat, a finished job) before each of N
refreshes; the app notices it on its poll and repaints. Prints the process's resident
memory after a warm-up and at the end, the growth per 1,000 refreshes against its target,
and the Python allocations that grew most (tracemalloc), so a leak names its line.

A daemon beats every 5 s, so a dashboard open for a day sees about 17,000 commits.

Run: .venv/bin/python bench/bench_tui_soak.py [--refreshes N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlite_utils import Database  # noqa: E402

from store.db import open_db  # noqa: E402
from tests.tui_fixture import FIXED_NOW, fill  # noqa: E402
from tui.app import make_app  # noqa: E402

N_SYMBOLS = 20
WARMUP = 100
TARGET_MB_PER_1000 = 2.0  # a week of 5 s heartbeats (~120k) would then hold < 250 MB more


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def change(writer: Database, i: int) -> None:
    """What a running daemon commits: a close, a heartbeat, a job's run."""
    kind = i % 3
    if kind == 0:
        writer.execute(
            "UPDATE bars SET close = ? WHERE symbol = 'S000' AND date = "
            "(SELECT MAX(date) FROM bars WHERE symbol = 'S000')",
            [200.0 + (i % 50)],
        )
    elif kind == 1:
        writer.execute("UPDATE daemon SET heartbeat_at = ?", [f"2018-06-29T21:{i % 60:02d}:00"])
    else:
        writer.execute(
            "INSERT INTO job_runs (job, started_at, finished_at, status, message) "
            "VALUES ('verify', ?, ?, 'ok', ?)",
            ["2018-06-29T21:00:00", "2018-06-29T21:00:01", f"run {i}"],
        )
    writer.conn.commit()


async def soak(home: Path, refreshes: int) -> tuple[float, float, float, list[str]]:
    writer = open_db(home)
    app = make_app(home, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(160, 45)) as pilot:
        while app.loads < 1:
            await asyncio.sleep(0.005)
        start = time.perf_counter()
        warm = top = 0.0
        snap = None
        for i in range(refreshes):
            change(writer, i)
            loads = app.loads
            app.poll()
            while app.loads == loads:
                await asyncio.sleep(0.001)
            await pilot.pause()
            if i + 1 == WARMUP:
                gc.collect()
                warm = rss_mb()
                tracemalloc.start(10)
                snap = tracemalloc.take_snapshot()
        gc.collect()
        top = rss_mb()
        grown: list[str] = []
        if snap is not None:
            stats = tracemalloc.take_snapshot().compare_to(snap, "lineno")
            grown = [str(s) for s in stats[:5]]
            tracemalloc.stop()
        took = time.perf_counter() - start
    writer.close()
    return warm, top, took, grown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=1500)
    args = parser.parse_args()
    if args.refreshes <= WARMUP:
        parser.error(f"--refreshes must exceed the warm-up ({WARMUP})")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        db = open_db(home)
        fill(db, tuple(f"S{i:03d}" for i in range(N_SYMBOLS)), sessions=400, predict_last=334)
        db.close()
        warm, top, took, grown = asyncio.run(soak(home, args.refreshes))
    per_1000 = (top - warm) / (args.refreshes - WARMUP) * 1000
    ok = per_1000 <= TARGET_MB_PER_1000
    print(
        f"{args.refreshes} refreshes in {took:.0f} s; resident memory {warm:.0f} MB after "
        f"{WARMUP}, {top:.0f} MB at the end (load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"growth: {per_1000:+.2f} MB per 1,000 refreshes (target <= {TARGET_MB_PER_1000} MB) "
        f"{'PASS' if ok else 'FAIL'}"
    )
    print("Python allocations grown most since the warm-up (tracemalloc, with its overhead):")
    for line in grown:
        print(f"  {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
