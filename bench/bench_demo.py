"""`assistant demo`: how long a new user waits for model calls, quiet and beside a CPU burner.

The demo home is prepared exactly as `assistant demo` prepares it (`prepare_demo`: the
sample source, the six symbols, the demo's model kinds) and its replay daemon is started
with the same command line; only the dashboard is left out (it reads the same rows within
half a second). The clock starts when the demo starts (a fresh home, nothing trained).
Figures: seconds to the first model call (a call served by a trained model, not the
rules' `signals-v1`) and to 100 verified model calls. Target: the first model call
within 90 s, also with another CPU-bound process running.

    python bench/bench_demo.py [TIMEOUT_S]
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_FIRST_S = 90.0
VERIFIED = 100
RULES = "signals-v1"  # assistant.cycle.plan.RULES_VERSION: the untrained rule pool


def counts(db_path: Path) -> tuple[int, int]:
    """(model calls, verified model calls) in the demo home's ledger so far."""
    if not db_path.exists():
        return 0, 0
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            made, verified = con.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'verified'), 0) FROM predictions "
                "WHERE model_version != ?",
                [RULES],
            ).fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0, 0
    return int(made), int(verified)


def run(label: str, timeout_s: float) -> tuple[float | None, float | None]:
    from assistant.cli.ui import prepare_demo
    from store.db import DB_FILENAME

    home = Path(tempfile.mkdtemp()) / "demo"
    start = time.monotonic()
    _, cmd = prepare_demo(home)
    log = open(home / "demo-daemon.log", "ab")
    daemon = subprocess.Popen(
        cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    first = hundred = None
    try:
        while time.monotonic() - start < timeout_s and daemon.poll() is None:
            made, verified = counts(home / DB_FILENAME)
            now = time.monotonic() - start
            if made and first is None:
                first = now
            if verified >= VERIFIED:
                hundred = now
                break
            time.sleep(0.25)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
    show = lambda t: "not within the timeout" if t is None else f"{t:6.1f} s"  # noqa: E731
    verdict = "ok" if first is not None and first <= TARGET_FIRST_S else "MISSED"
    print(
        f"  {label:<24} first model call {show(first)} (target {TARGET_FIRST_S:.0f} s: "
        f"{verdict}); {VERIFIED} verified model calls {show(hundred)} "
        f"(load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return first, hundred


def main() -> None:
    timeout_s = float(sys.argv[1]) if len(sys.argv) > 1 else 150.0
    print(
        f"assistant demo (replay of the bundled sample, default demo settings), "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        "seconds from the demo's start",
        flush=True,
    )
    run("quiet", timeout_s)
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        run("beside 1 CPU burner", timeout_s)
    finally:
        burner.kill()
        burner.wait()


if __name__ == "__main__":
    main()
