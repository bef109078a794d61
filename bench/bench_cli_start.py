"""Benchmark: how long a person waits for the CLI. `assistant --help` (target <= 0.3 s) and
`assistant status` / `assistant report` on a home with the bundled sample (target <= 1 s),
each the median of 5 runs, with the load average (the machine is shared and noisy).

Usage: .venv/bin/python bench/bench_cli_start.py [--home HOME]
(without --home: a new home with the sample's six symbols collected and a few calls made)
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
TARGETS = {"--help": 0.3, "status": 1.0, "report": 1.0}


def run(home: Path, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "assistant", "--home", str(home), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path)
    args = ap.parse_args()
    home = args.home
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="bench-cli-")) / "home"
        for step in (
            ("watch", "add", "AAPL", "GOOG", "IBM", "MSFT"),
            ("collect",),
            ("predict", "--as-of", "2012-06-01"),
            ("verify", "--as-of", "2012-07-02"),
        ):
            run(home, *step)
    for name, target in TARGETS.items():
        times = [run(home, *name.split()) for _ in range(5)]
        med = statistics.median(times)
        print(
            f"assistant {name}: median {med:.2f} s of 5 (min {min(times):.2f}) "
            f"(target <= {target} s) {'PASS' if med <= target else 'FAIL'}"
            f"  [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
