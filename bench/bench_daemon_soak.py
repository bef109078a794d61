"""Soak: months of a daemon's life in one replay: disk, memory and failures against targets.

Runs the real daemon (`assistant daemon --replay --speed 0 --retrain-every 20`) as a
subprocess on the seeded synthetic source over the last N sessions it serves (default
1,000: four years of trading days, 50 retrains), samples its RSS from /proc and the home's
disk use (database, WAL, models) while it runs, and prints, against the targets:

- completion, and job runs failed (target 0);
- RSS after the first retrain and at the end (target: flat, growth <= 100 MB);
- seconds per session in the first and the last fifth of the replay (target: the last at
  most 2x the first: a day's work must not grow with the history behind it);
- disk: the database per replayed session (it holds every call: it grows with them), the
  WAL's largest size (target <= 64 MB: checkpoints keep it bounded), and the models
  folder: its artifact folders at the end (target: at most keep_versions + 1 = 4 per kind,
  pruning works) and its size at the end against its size half-way through the replay
  (target <= 1.5x: it stops growing; an artifact's size still follows its training, e.g.
  XGBoost's early stopping keeps more trees on more data, so the first retrains are no
  reference).

    .venv/bin/python bench/bench_daemon_soak.py                 # 1,000 sessions x 10 symbols
    .venv/bin/python bench/bench_daemon_soak.py --small         # 100 sessions x 3 symbols (~2 min)
    .venv/bin/python bench/bench_daemon_soak.py --sessions 2000 --symbols 20 --retrain-every 20
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
SYMBOLS = [f"S{i:02d}" for i in range(50)]
SYNTHETIC_START, SYNTHETIC_SESSIONS = "2010-01-04", 2500  # what the synthetic source serves

WAL_TARGET_MB = 64.0
MODELS_GROWTH_TARGET = 1.5
KEEP_VERSIONS = 3  # [models] keep_versions' default: the soak's home keeps it
RSS_GROWTH_TARGET_MB = 100.0
PACE_GROWTH_TARGET = 2.0


def pace(clock: list[tuple[int, float]]) -> tuple[float, float]:
    """Seconds per replayed session over the first and the last fifth of the sessions
    (retrains fall every N sessions, so both windows hold their share of them)."""
    if len(clock) < 10:
        return float("nan"), float("nan")
    total = clock[-1][0]

    def rate(lo: int, hi: int) -> float:
        inside = [(n, t) for n, t in clock if lo <= n <= hi]
        (n0, t0), (n1, t1) = inside[0], inside[-1]
        return (t1 - t0) / (n1 - n0) if n1 > n0 else float("nan")

    return rate(1, total // 5), rate(total - total // 5, total)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def size_mb(path: Path) -> float:
    """Bytes under `path` in MB; files the daemon removes while it is read (pruned
    artifacts) count as gone."""
    total = 0
    for root, _dirs, files in os.walk(path):  # os.walk skips folders that vanish
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    if not total and path.is_file():
        try:
            total = path.stat().st_size
        except OSError:
            pass
    return total / 1e6


def q(home: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(home / "assistant.db", timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def start_date(sessions: int) -> str:
    import pandas as pd

    days = pd.bdate_range(SYNTHETIC_START, periods=SYNTHETIC_SESSIONS)
    return f"{days[max(0, len(days) - sessions)]:%Y-%m-%d}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sessions", type=int, default=1000, help="sessions to replay")
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--kinds", default="xgboost,markov,rules,ranking")
    ap.add_argument("--retrain-every", type=int, default=20, help="sessions between retrains")
    ap.add_argument(
        "--small", action="store_true", help="100 sessions x 3 symbols: a quick look (~2 min)"
    )
    args = ap.parse_args()
    if args.small:
        args.sessions, args.symbols = 100, 3

    home = Path(tempfile.mkdtemp(prefix="soak-")) / "home"
    env = dict(
        os.environ,
        ASSISTANT_COLLECT_SOURCE="synthetic",
        ASSISTANT_MODELS_KINDS=args.kinds,
        ASSISTANT_COLLECT_HISTORY_YEARS="3",
    )
    env.pop("ASSISTANT_HOME", None)
    cli = [sys.executable, "-m", "assistant", "--home", str(home)]
    subprocess.run(
        [*cli, "watch", "add", *SYMBOLS[: args.symbols]], env=env, check=True, capture_output=True
    )
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
            start_date(args.sessions),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db, wal, models = home / "assistant.db", home / "assistant.db-wal", home / "models"
    samples: list[tuple[int, float, float, float, float]] = []  # sessions, rss, db, wal, models
    clock: list[tuple[int, float]] = []  # (sessions replayed, seconds since start)
    state = None
    while proc.poll() is None:
        rows = q(home, "SELECT state FROM daemon")
        state = rows[0][0] if rows else None
        done = q(home, "SELECT COUNT(DISTINCT as_of) FROM predictions")
        n = done[0][0] if done else 0
        if n and (not clock or n > clock[-1][0]):
            clock.append((n, time.monotonic() - start))
        if n and (not samples or n - samples[-1][0] >= max(5, args.sessions // 40)):
            samples.append((n, rss_mb(proc.pid), size_mb(db), size_mb(wal), size_mb(models)))
        if state == "finished":
            break
        time.sleep(0.5)
    wall = time.monotonic() - start
    end = (
        samples[-1][0] if samples else 0,
        rss_mb(proc.pid),
        size_mb(db),
        size_mb(wal),
        size_mb(models),
    )
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(60)

    replayed = q(home, "SELECT COUNT(DISTINCT as_of) FROM predictions")[0][0]
    preds = q(home, "SELECT COUNT(*) FROM predictions")[0][0]
    retrains = dict(
        q(home, "SELECT status, COUNT(*) FROM job_runs WHERE job = 'retrain' GROUP BY status")
    )
    failed = dict(
        q(home, "SELECT job, COUNT(*) FROM job_runs WHERE status = 'failed' GROUP BY job")
    )
    artifacts = len([p for p in models.iterdir() if p.is_dir()]) if models.is_dir() else 0
    finished = state == "finished" and rc == 0

    # RSS "start": after the first retrain has loaded the learners (imports, first model).
    first_retrain = args.retrain_every + 5
    early = next((s for s in samples if s[0] >= first_retrain), samples[0] if samples else end)
    # Models: pruning holds each kind's folders at the serving model + keep_versions; from
    # half-way on the folder should stay flat in size too.
    half = next((s for s in samples if s[0] >= replayed // 2 and s[4] > 0), end)
    per_kind: dict[str, int] = {}
    for p in models.iterdir() if models.is_dir() else []:
        if p.is_dir():
            kind = p.name.rsplit("-v", 1)[0]
            per_kind[kind] = per_kind.get(kind, 0) + 1
    folders_ok = bool(per_kind) and max(per_kind.values()) <= KEEP_VERSIONS + 1
    rss_growth = end[1] - early[1]
    wal_max = max([s[3] for s in samples] + [end[3]])
    models_ratio = end[4] / half[4] if half[4] else float("nan")

    print(
        f"soak: {args.symbols} symbols, {args.sessions} sessions asked, kinds {args.kinds}, "
        f"retrain every {args.retrain_every} sessions; home {home}"
    )
    print(
        f"completed: {finished} (state {state}, exit code after SIGTERM {rc}); "
        f"{replayed} sessions in {wall:.0f} s ({replayed / wall if wall else 0:.1f}/s), "
        f"{preds:,} predictions  {verdict(finished)}"
    )
    print(f"retrains: {retrains or 'none'}")
    print(f"job runs failed: {failed or 0} (target 0)  {verdict(not failed)}")
    print(
        f"RSS: {early[1]:.0f} MB after {early[0]} sessions, {end[1]:.0f} MB at the end "
        f"(growth {rss_growth:+.0f} MB; target <= {RSS_GROWTH_TARGET_MB:.0f} MB)  "
        f"{verdict(rss_growth <= RSS_GROWTH_TARGET_MB)}"
    )
    print(
        f"database: {end[2]:.1f} MB ({1e3 * end[2] / max(replayed, 1):.1f} kB per session; "
        "it keeps every call)"
    )
    print(
        f"WAL: largest {wal_max:.1f} MB, {end[3]:.1f} MB at the end "
        f"(target <= {WAL_TARGET_MB:.0f} MB)  {verdict(wal_max <= WAL_TARGET_MB)}"
    )
    print(
        f"models: {artifacts} artifact folders at the end "
        f"({', '.join(f'{k} {n}' for k, n in sorted(per_kind.items()))}; target <= "
        f"{KEEP_VERSIONS + 1} per kind)  {verdict(folders_ok)}"
    )
    print(
        f"models: {end[4]:.1f} MB at the end, {half[4]:.1f} MB after {half[0]} sessions "
        f"(x{models_ratio:.2f}; target <= x{MODELS_GROWTH_TARGET:g}: not growing)  "
        f"{verdict(models_ratio <= MODELS_GROWTH_TARGET)}"
    )
    first, last = pace(clock)
    print(
        f"pace: {first:.2f} s per session over the first fifth, {last:.2f} s over the last "
        f"(x{last / first if first else float('nan'):.2f}; target <= x{PACE_GROWTH_TARGET:g})  "
        f"{verdict(bool(first) and last <= PACE_GROWTH_TARGET * first)}"
    )
    print("samples (sessions: RSS MB / db MB / WAL MB / models MB):")
    for s in samples[:: max(1, len(samples) // 10)] + [end]:
        print(f"  {s[0]:>5}: {s[1]:.0f} / {s[2]:.1f} / {s[3]:.1f} / {s[4]:.1f}")
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
