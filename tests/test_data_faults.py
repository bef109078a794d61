"""Faults with real processes: a writer holding the lock, and `kill -9` in the middle of an import."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from store.db import open_db

ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = [sys.executable, "-m", "assistant"]


def test_command_insert_waits_for_a_writer_and_succeeds(home):
    open_db(home).close()
    # Event-driven: the holder keeps its write lock until the test says so, after the
    # inserting process has started and shown it cannot see the holder's row yet.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from store.db import open_db
            db = open_db({str(home)!r})
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO job_runs (job, started_at) VALUES ('holder', 'now')")
            print("locked", flush=True)
            sys.stdin.readline()
            db.execute("COMMIT")
        """),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    inserter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            from store.db import open_db
            from store.commands import enqueue
            from vocab.commands import Collect
            db = open_db({str(home)!r})
            saw = db.execute("SELECT COUNT(*) FROM job_runs WHERE job = 'holder'").fetchone()[0]
            print(saw, flush=True)
            cid = enqueue(db, Collect(("AAPL",)))  # waits for the holder
            after = db.execute("SELECT COUNT(*) FROM job_runs WHERE job = 'holder'").fetchone()[0]
            print(cid, after, flush=True)
        """),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    saw = inserter.stdout.readline().strip()
    time.sleep(0.2)  # lets the insert start waiting; the outcome does not depend on it
    holder.stdin.write("commit\n")
    holder.stdin.flush()
    out, err = inserter.communicate(timeout=60)
    queued = subprocess.CompletedProcess(inserter.args, inserter.returncode, f"{saw} {out}", err)
    assert holder.wait(timeout=30) == 0
    assert queued.returncode == 0, queued.stderr
    # Before the insert the holder's row was invisible (uncommitted); the insert could only
    # happen once the holder committed, so afterwards the row is there.
    assert queued.stdout.split() == ["0", "1", "1"]
    db = open_db(home)
    assert db.execute("SELECT kind, status FROM commands").fetchall() == [("collect", "queued")]
    db.close()


# Files the product accepts: 45,000 business days that END in 2019 (they start in 1847), so
# no row can be "from the future" whatever today is.
LAST_SESSION = pd.Timestamp("2019-12-31")


def _write_csv(path: Path, n: int, seed: int) -> None:
    start = pd.bdate_range(end=LAST_SESSION, periods=n)[0]
    frame = synthetic_bars(n, seed=seed, start=f"{start:%Y-%m-%d}")
    assert frame.index[-1] <= LAST_SESSION
    out = frame.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
    out.index.name = "Date"
    out.to_csv(path, float_format="%.4f")


@pytest.mark.slow
def test_kill_9_during_import_leaves_each_file_whole_or_absent(home, tmp_path):
    open_db(home).close()
    small, big = tmp_path / "SMALL.csv", tmp_path / "BIG.csv"
    _write_csv(small, 50, 1)
    _write_csv(big, 45_000, 2)
    big_rows = 45_000
    others = []
    for i in range(4):  # more big files queued behind: the kill lands before them
        others.append(tmp_path / f"BIG{i}.csv")
        _write_csv(others[-1], big_rows, 3 + i)
    err = tmp_path / "import.err"  # why the import ended, should it end before the kill
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [*ASSISTANT, "--home", str(home), "import", str(small), str(big), *map(str, others)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    reader = sqlite3.connect(home / "assistant.db", timeout=10)
    probe = sqlite3.connect(home / "assistant.db", timeout=0, isolation_level=None)
    deadline = time.monotonic() + 120
    while reader.execute("SELECT COUNT(*) FROM bars WHERE symbol = 'SMALL'").fetchone()[0] == 0:
        assert proc.poll() is None and time.monotonic() < deadline, (
            "import ended before SMALL landed: " + err.read_text()[-2000:]
        )
        time.sleep(0.005)
    # SMALL is committed; the next write transaction the import opens is BIG's (it parses BIG
    # first, outside any transaction). Freeze the importer, and if it then holds the write
    # lock it is inside BIG's transaction: kill it there. Otherwise let it run a moment more.
    inside = False
    while not inside:
        assert proc.poll() is None and time.monotonic() < deadline, (
            "import ended before the kill landed inside BIG's transaction: "
            + err.read_text()[-2000:]
        )
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc) or "busy" in str(exc), exc
            inside = True
        else:
            probe.execute("ROLLBACK")
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, err.read_text()[-2000:]
    probe.close()
    reader.close()
    db = open_db(home)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counts = dict(db.execute("SELECT symbol, COUNT(*) FROM bars GROUP BY symbol").fetchall())
    assert counts["SMALL"] == 50
    # The kill landed inside BIG's transaction: BIG is absent, and nothing after it began.
    for sym in ["BIG", "BIG0", "BIG1", "BIG2", "BIG3"]:
        assert counts.get(sym, 0) == 0, (sym, counts)
    db.close()
