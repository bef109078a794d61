"""Helpers for the daemon tests: real daemon subprocesses and polling the store.

Run as `python -m tests.daemon_fixture HOME ARGS...` it is the real `assistant` CLI with
one thing slowed down, chosen by `$SLOW` (so a test can `kill -9` in the middle of it):
- `collect`: every fetch from the sample source takes `$SLOW_S` seconds (a slow network);
- `train`: training takes `$SLOW_S` seconds more (watching its stop event meanwhile),
  after the first `$SLOW_AFTER` trainings (default 0);
- `cycle`: the cycle sleeps `$SLOW_S` seconds inside its write transaction, after
  inserting its predictions and before committing them;
- `paper`: the paper account's step sleeps `$SLOW_S` seconds inside its write
  transaction, before writing the session's rows;
- `backup`: a backup sleeps `$SLOW_S` seconds once its copy is written to the temporary
  file, before checking it and putting it in place.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Fast models and 3 years of history per symbol keep each daemon start to seconds.
FAST_ENV = {
    "ASSISTANT_MODELS_KINDS": "markov,rules",
    "ASSISTANT_DAEMON_HEARTBEAT_SECONDS": "1",
    "ASSISTANT_COLLECT_HISTORY_YEARS": "3",
}


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out.update(FAST_ENV)
    out.update(extra)
    out.pop("ASSISTANT_HOME", None)
    return out


SPAWNED: list[subprocess.Popen] = []  # reaped by the autouse fixture in conftest.py


def spawn(
    home: Path,
    *args: str,
    slow: str = "",
    slow_s: float = 1.0,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """A daemon (or any CLI command) in a subprocess; stdout/stderr to `<home>.out`."""
    e = env(SLOW=slow, SLOW_S=str(slow_s), SLOW_MARK=f"{home}.slow", **(extra_env or {}))
    out = open(f"{home}.out", "ab")  # noqa: SIM115 - the child owns it
    cmd = [sys.executable, "-m", "tests.daemon_fixture", "--home", str(home), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=out, stderr=subprocess.STDOUT)
    SPAWNED.append(proc)
    return proc


def cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "assistant", "--home", str(home), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout)


def query(home: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(home / "assistant.db", timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def load_factor() -> float:
    """How much slower this machine runs now than when idle (run queue per core, >= 1).

    Waits in the tests are for events; their give-up bounds are not what is tested, so
    they stretch with the machine's load: a busy machine only takes longer.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1.0, os.getloadavg()[0] / max(cores, 1))


def wait_for(
    cond: Callable[[], Any],
    timeout: float = 30,
    what: str = "condition",
    proc: subprocess.Popen | None = None,
) -> Any:
    """Wait for `cond()`; give up after `timeout` seconds times the machine's load factor."""
    timeout *= load_factor()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited (rc {proc.returncode}) while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_running(home: Path, job: str) -> bool:
    return bool(query(home, "SELECT 1 FROM job_runs WHERE job = ? AND status = 'running'", (job,)))


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def slow_marks(home: Path) -> list[str]:
    try:
        return Path(f"{home}.slow").read_text().splitlines()
    except FileNotFoundError:
        return []


def _inside(home: Path, proc: subprocess.Popen, after_another: bool) -> bool:
    marks = [m.split() for m in slow_marks(home)]
    mine = [m for m in marks if m[-1] == str(proc.pid)]
    if not mine or mine[-1][0] != "in":
        return False
    # after_another: the step before this one, for something else, went through
    return not after_another or (
        len(mine) > 1 and mine[-2][0] == "out" and mine[-2][1] != mine[-1][1]
    )


def wait_inside(
    home: Path, proc: subprocess.Popen, timeout: float = 60, *, after_another: bool = False
) -> None:
    """Wait until `proc` (spawned with `slow=`) is inside its slowed step."""
    wait_for(lambda: _inside(home, proc, after_another), timeout, "the slowed step", proc)


def assert_died_inside(home: Path, proc: subprocess.Popen) -> None:
    """`proc` (killed) died inside its slowed step: the kill landed where the test meant."""
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    last = [m for m in slow_marks(home) if m.split()[-1] == str(proc.pid)][-1]
    assert last.startswith("in "), f"the kill landed after the slowed step: {last!r}"


def integrity_ok(home: Path) -> bool:
    return query(home, "PRAGMA integrity_check") == [("ok",)]


def _mark(word: str, what: str) -> None:
    """A slowed step appends `in <what> <pid>` to `$SLOW_MARK` (`<home>.slow`) as it starts
    to wait and `out <what> <pid>` when it goes on, so a test can `kill -9` while a process
    is inside the step (`wait_inside`) and check that it died there (`assert_died_inside`)."""
    mark = os.environ.get("SLOW_MARK")
    if mark:
        with open(mark, "a") as fh:  # closed (written) before the wait: a kill -9 keeps it
            fh.write(f"{word} {what} {os.getpid()}\n")


def _install_slowdowns() -> None:
    slow, delay = os.environ.get("SLOW", ""), float(os.environ.get("SLOW_S", "1"))
    if slow == "collect":
        from assistant.ingest.sources import sample

        real_history = sample.SampleSource.history

        def slow_history(self, symbol, start, end):  # type: ignore[no-untyped-def]
            _mark("in", symbol)
            time.sleep(delay)
            _mark("out", symbol)
            return real_history(self, symbol, start, end)

        sample.SampleSource.history = slow_history  # type: ignore[method-assign]
    elif slow == "train":
        from assistant.modeling import training

        real_train = training.train
        fast = [int(os.environ.get("SLOW_AFTER", "0"))]  # trainings that run at full speed first

        def slow_train(*a, **k):  # type: ignore[no-untyped-def]
            stop = k.get("stop")
            fast[0] -= 1
            deadline = time.monotonic() + (delay if fast[0] < 0 else 0.0)
            while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
                time.sleep(0.05)  # a long training that checks its stop event, as fit() does
            return real_train(*a, **k)

        training.train = slow_train
    elif slow == "cycle":
        from store import predictions

        real_insert = predictions.insert_many

        def slow_insert(*a, **k):  # type: ignore[no-untyped-def]
            out = real_insert(*a, **k)
            _mark("in", "cycle")
            time.sleep(delay)  # inside the cycle's open write transaction
            _mark("out", "cycle")
            return out

        predictions.insert_many = slow_insert
    elif slow == "paper":
        from store import paper

        real_now = paper.utcnow

        def slow_now() -> str:
            _mark("in", "paper")
            time.sleep(delay)  # inside write_session's open write transaction
            _mark("out", "paper")
            return real_now()

        paper.utcnow = slow_now
    elif slow == "backup":
        from store import db as store_db

        real_damage = store_db.damage

        def slow_damage(db, *a, **k):  # type: ignore[no-untyped-def]
            if isinstance(db, sqlite3.Connection):  # the copy (the home's is sqlite-utils')
                time.sleep(delay)
            return real_damage(db, *a, **k)

        store_db.damage = slow_damage


def writer_main(home: Path, seconds: float, min_sessions: int = 0, min_accepted: int = 0) -> None:
    """Insert commands as another process would (the TUI); print what happened.

    Runs for at least `seconds`, and on until the daemon has replayed `min_sessions`
    sessions and `min_accepted` commands went in (a loaded machine only takes longer);
    WRITER_CAP_S is the give-up point.
    """
    import json

    from store import commands
    from store.db import open_db
    from vocab import commands as cmd

    db = open_db(home)
    counts = {"accepted": 0, "queue_full": 0, "locked": 0, "other_errors": 0, "capped": False}
    started = time.monotonic()
    i, sessions = 0, 0
    while True:
        elapsed = time.monotonic() - started
        if i % 25 == 0:
            sessions = db.execute("SELECT COUNT(DISTINCT as_of) FROM predictions").fetchone()[0]
        if elapsed >= seconds and sessions >= min_sessions and counts["accepted"] >= min_accepted:
            break
        if elapsed >= WRITER_CAP_S:
            counts["capped"] = True
            break
        i += 1
        try:
            commands.enqueue(db, cmd.Predict() if i % 20 == 0 else cmd.Verify())
            counts["accepted"] += 1
        except commands.CommandError:
            counts["queue_full"] += 1
        except sqlite3.OperationalError as exc:
            counts["locked" if "locked" in str(exc) else "other_errors"] += 1
        time.sleep(0.01)
    db.close()
    print(json.dumps(counts))


WRITER_CAP_S = 300.0


def writer_scenario(
    home: Path, seconds: float, min_sessions: int = 0, min_accepted: int = 0
) -> dict[str, Any]:
    """A replaying daemon writes flat out while a writer process inserts commands."""
    import json

    out = cli(home, "watch", "add", "^GSPC", "^IXIC")
    assert out.returncode == 0, out.stderr
    daemon = spawn(home, "daemon", "--replay", "--speed", "0", "--from", "2010-01-04")
    wait_for(
        lambda: query(home, "SELECT sim_date FROM daemon WHERE sim_date IS NOT NULL"),
        60,
        "the replay to start",
        daemon,
    )
    t0 = time.monotonic()
    writer = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.daemon_fixture",
            "writer",
            str(home),
            str(seconds),
            str(min_sessions),
            str(min_accepted),
        ],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=max(seconds, WRITER_CAP_S) + 60,
    )
    assert writer.returncode == 0, writer.stderr
    counts = json.loads(writer.stdout.strip().splitlines()[-1])
    counts["writer_s"] = round(time.monotonic() - t0, 1)
    wait_for(
        lambda: not query(home, "SELECT 1 FROM commands WHERE status IN ('queued', 'running')"),
        120,
        "the queue to drain",
        daemon,
    )
    counts["sessions_replayed"] = query(home, "SELECT COUNT(DISTINCT as_of) FROM predictions")[0][0]
    daemon.send_signal(signal.SIGTERM)
    counts["daemon_rc"] = daemon.wait(15)
    counts["commands"] = dict(
        query(
            home,
            "SELECT status, COUNT(*) FROM commands "
            "WHERE kind IN ('verify', 'predict') GROUP BY status",
        )
    )
    log = (home / "logs" / "daemon.log").read_text()
    counts["daemon_locked_errors"] = log.count("database is locked")
    return counts


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer_main(Path(sys.argv[2]), float(sys.argv[3]), *map(int, sys.argv[4:6]))
        sys.exit(0)
    _install_slowdowns()
    from assistant.cli import main

    sys.exit(main(sys.argv[1:]))
