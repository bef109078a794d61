"""Soak: a replay of 5 years x 10 symbols at full speed with a retrain every quarter.

Runs the real daemon (`assistant daemon --replay --speed 0 --retrain-every 63`) as a
subprocess on the seeded synthetic source, samples its RSS from /proc while it runs,
and prints sessions per second and RSS at start and end against the targets.

    .venv/bin/python bench/bench_daemon_soak.py [--years 5] [--symbols 10] [--kinds xgboost,markov,rules]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ", "KKK", "LLL"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def q(home: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(home / "assistant.db", timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--years", type=float, default=5)
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--kinds", default="xgboost,markov,rules")
    ap.add_argument("--retrain-every", type=int, default=63)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="soak-")) / "home"
    env = dict(os.environ, ASSISTANT_COLLECT_SOURCE="synthetic", ASSISTANT_MODELS_KINDS=args.kinds)
    env.pop("ASSISTANT_HOME", None)
    cli = [sys.executable, "-m", "assistant", "--home", str(home)]
    subprocess.run(
        [*cli, "watch", "add", *SYMBOLS[: args.symbols]], env=env, check=True, capture_output=True
    )
    # The synthetic source serves business days 2010-01-04 .. mid 2019: replay the last N years.
    sessions = int(252 * args.years)
    start = time.monotonic()
    proc = subprocess.Popen(
        [
            *cli,
            "daemon",
            "--replay",
            "--speed",
            "0",
            "--retrain-every",
            str(args.retrain_every),
            "--from",
            f"{2019 - int(round(args.years))}-06-03",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rss: list[tuple[int, float]] = []
    state = None
    while proc.poll() is None:
        rows = q(home, "SELECT state, sim_date FROM daemon")
        done = q(
            home,
            "SELECT COUNT(*) FROM job_runs WHERE job = 'cycle' AND scheduled_for IS NOT NULL "
            "AND scheduled_for NOT LIKE 'command%'",
        )
        n = done[0][0] if done else 0
        if n and (not rss or n - rss[-1][0] >= 50):
            rss.append((n, rss_mb(proc.pid)))
        state = rows[0][0] if rows else None
        if state == "finished":
            break
        time.sleep(0.5)
    wall = time.monotonic() - start
    end_rss = rss_mb(proc.pid) if proc.poll() is None else (rss[-1][1] if rss else float("nan"))
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(30)

    replayed = q(home, "SELECT COUNT(DISTINCT as_of) FROM predictions")[0][0]
    retrains = dict(
        q(home, "SELECT status, COUNT(*) FROM job_runs WHERE job = 'retrain' GROUP BY status")
    )
    failed_jobs = q(home, "SELECT job, COUNT(*) FROM job_runs WHERE status = 'failed' GROUP BY job")
    preds = q(home, "SELECT COUNT(*) FROM predictions")[0][0]
    rate = replayed / wall if wall else 0
    first = rss[1][1] if len(rss) > 1 else (rss[0][1] if rss else float("nan"))
    growth = end_rss - first
    print(
        f"soak: {args.symbols} symbols x {args.years:g} years (~{sessions} sessions), kinds {args.kinds}, "
        f"retrain every {args.retrain_every} sessions"
    )
    print(
        f"completed: {state == 'finished'} (state {state}); daemon exit code after SIGTERM: {rc}  "
        f"{'PASS' if state == 'finished' and rc == 0 else 'FAIL'}"
    )
    print(
        f"sessions replayed: {replayed} in {wall:.1f} s = {rate:.1f} sessions/s; predictions: {preds}"
    )
    print(f"retrains: {retrains}; failed job runs: {dict(failed_jobs) or 'none'}")
    print(
        f"RSS: {first:.0f} MB after ~{rss[1][0] if len(rss) > 1 else 0} sessions, {end_rss:.0f} MB at the end "
        f"(growth {growth:+.0f} MB; target: no growth beyond noise, <= 100 MB) "
        f"{'PASS' if growth <= 100 else 'FAIL'}"
    )
    print(
        "RSS samples (sessions: MB): "
        + ", ".join(f"{n}: {m:.0f}" for n, m in rss[:: max(1, len(rss) // 12)])
    )
    print(f"home kept for inspection: {home}")
    return 0 if state == "finished" and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
