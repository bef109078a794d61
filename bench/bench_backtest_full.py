"""`assistant backtest --full` on the bundled sample (six series, every configured kind,
3 years, 12 refits), this checkout against an older one, run alternately in fresh
processes: wall and CPU seconds (medians), peak RSS, and whether the predictions CSV and
the JSON report are byte for byte the same. Target (issue 34): >= 3x faster than the
older code with identical figures.

    python bench/bench_backtest_full.py --old /tmp/main-old [--runs 2]

(`git worktree add --detach /tmp/main-old main` makes the older checkout; it runs with
this checkout's venv.) Without --old it times this checkout only.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.0
SAMPLE = ["^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"]


def sample_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="bench-full-")) / "home"
    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    for args in (["watch", "add", *SAMPLE], ["collect", "--source", "sample"]):
        cmd = [sys.executable, "-m", "assistant", *args]
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
    return home


def one(code: Path, home: Path, out: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one `backtest --full` with `code` first on the path."""
    env = {**os.environ, "ASSISTANT_HOME": str(home), "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-m", "assistant", "backtest", "--full", "--json"]
    cmd += ["--predictions-out", str(out.with_suffix(".csv"))]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with out.with_suffix(".json").open("w") as fh:
        # cwd outside both checkouts: `python -m` puts the cwd first on the path
        subprocess.run(
            cmd, env=env, cwd=out.parent, check=True, stdout=fh, stderr=subprocess.DEVNULL
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=Path, help="an older checkout to compare with")
    ap.add_argument("--runs", type=int, default=1, help="runs of each, alternating")
    args = ap.parse_args()
    home = sample_home()
    work = Path(tempfile.mkdtemp(prefix="bench-full-out-"))
    sides = {"new": ROOT, **({"old": args.old.resolve()} if args.old else {})}
    times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in sides}
    loads = []
    for r in range(args.runs):
        for name, code in reversed(sides.items()):  # the old code first
            loads.append(os.getloadavg()[0])
            t = one(code, home, work / f"{name}{r}")
            times[name].append(t)
            print(
                f"{name} run {r + 1}: {t[0]:7.1f} s wall, {t[1]:7.1f} s CPU, peak RSS so far {t[2]:.0f} MB",
                flush=True,
            )
    for name, ts in times.items():
        print(
            f"{name}: median {statistics.median(t[0] for t in ts):.1f} s wall, "
            f"{statistics.median(t[1] for t in ts):.1f} s CPU over {len(ts)} run(s)"
        )
    if "old" in times:
        same = all(
            filecmp.cmp(work / f"new{r}{ext}", work / f"old{r}{ext}", shallow=False)
            for r in range(args.runs)
            for ext in (".csv", ".json")
        )
        wall = statistics.median(t[0] for t in times["old"]) / statistics.median(
            t[0] for t in times["new"]
        )
        cpu = statistics.median(t[1] for t in times["old"]) / statistics.median(
            t[1] for t in times["new"]
        )
        verdict = "PASS" if min(wall, cpu) >= TARGET and same else "FAIL"
        print(
            f"speed-up {wall:.2f}x wall, {cpu:.2f}x CPU (target >= {TARGET:g}x); CSV and JSON "
            f"byte-identical: {same}: {verdict}"
        )
    print(
        f"[load average at each start: {', '.join(f'{x:.1f}' for x in loads)} on {os.cpu_count()} cores]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
