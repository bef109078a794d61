"""A daemon left running for months: bad rows, a full disk, SIGHUP, a restart after a
replay has finished. Each with a real daemon subprocess on a real SQLite file."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest

from assistant import calendar
from store import commands
from store.db import WAL_LIMIT_BYTES, open_db
from tests import daemon_fixture
from tests.daemon_fixture import cli, query, spawn, wait_for
from vocab import commands as cmd

END = "2013-03-01"  # the bundled sample's last session

pytestmark = pytest.mark.slow


def _log(home):
    path = home / "logs" / "daemon.log"
    return path.read_text() if path.exists() else ""


def _command(home, cid):
    rows = query(home, "SELECT status, error FROM commands WHERE id = ?", (cid,))
    return rows[0] if rows else (None, None)


def test_a_command_row_with_malformed_args_fails_at_once_and_the_daemon_goes_on(tmp_path):
    home = tmp_path / "home"
    open_db(home).close()
    # Another program (or a hand-edited database) queued a row whose args are not JSON.
    conn = sqlite3.connect(home / "assistant.db")
    with conn:
        bad = conn.execute(
            "INSERT INTO commands (kind, args, created_at) VALUES ('predict', '{oops', "
            "'2026-01-01T00:00:00+00:00')"
        ).lastrowid
        good = conn.execute(
            "INSERT INTO commands (kind, args, created_at) VALUES ('verify', '{}', "
            "'2026-01-01T00:00:00+00:00')"
        ).lastrowid
    conn.close()
    daemon = spawn(home, "daemon")
    wait_for(lambda: _command(home, good)[0] == "done", 60, "the good command", daemon)
    status, error = _command(home, bad)
    assert status == "failed", (status, error)
    assert "arguments are not valid JSON" in error, error
    assert daemon.poll() is None  # still running: it was not killed by the row
    assert query(home, "SELECT interruptions FROM commands WHERE id = ?", (bad,)) == [(0,)]
    log = _log(home)
    assert f"command {bad} predict failed: arguments are not valid JSON" in log, log
    assert "Traceback" not in log
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0


def _state(home):
    rows = query(home, "SELECT state, sim_date FROM daemon")
    return rows[0] if rows else (None, None)


def test_a_restarted_replay_daemon_over_a_finished_replay_serves_commands(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0
    replay = ("daemon", "--replay", "--speed", "0")
    daemon = spawn(home, *replay, "--from", "2013-02-01")
    wait_for(lambda: _state(home)[0] == "finished", 120, "the replay to finish", daemon)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    last = _state(home)[1]
    assert last == "2013-03-01"

    again = spawn(home, *replay)  # resumes after its last session: nothing is left
    wait_for(lambda: _state(home)[0] == "finished", 120, "the restarted replay", again)
    db = open_db(home)
    try:
        ids = [
            commands.enqueue(db, cmd.Predict(("^GSPC",))),
            commands.enqueue(db, cmd.Collect()),
            commands.enqueue(db, cmd.Verify()),
        ]
        wait_for(
            lambda: all(_command(home, i)[0] in ("done", "failed") for i in ids),
            60,
            "the commands",
            again,
        )
        rows = [_command(home, i) for i in ids]
        assert [r[0] for r in rows] == ["done", "done", "done"], rows
        calls = json.loads(commands.get(db, ids[0])["result"])
        assert {c["as_of"] for c in calls} == {last}  # as of the replay's last session
    finally:
        db.close()
    assert _state(home) == ("finished", last)
    assert f"the replay already finished at {last}" in _log(home)
    again.send_signal(signal.SIGTERM)
    assert again.wait(30) == 0


def test_sighup_reloads_the_configuration_and_a_bad_one_keeps_the_running_one(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text('[schedule]\ncollect_at = "16:30"\n')
    daemon = spawn(home, "daemon")
    wait_for(lambda: _state(home)[0] == "running", 60, "the daemon to run", daemon)

    config.write_text('[schedule]\ncollect_at = "17:05"\n')
    daemon.send_signal(signal.SIGHUP)
    wait_for(
        lambda: "configuration reloaded: schedule.collect_at changed" in _log(home),
        30,
        "the reload",
        daemon,
    )

    config.write_text("[schedule]\ncollect_at = 17:05:99\n")  # not TOML
    daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration not reloaded" in _log(home), 30, "the refusal", daemon)
    lines = [line for line in _log(home).splitlines() if "configuration not reloaded" in line]
    assert len(lines) == 1 and "ERROR" in lines[0] and "not valid TOML" in lines[0], lines
    assert "keeping the running one" in lines[0]

    # Still alive and serving after both; SIGTERM stops it cleanly.
    db = open_db(home)
    try:
        cid = commands.enqueue(db, cmd.Verify())
    finally:
        db.close()
    wait_for(lambda: _command(home, cid)[0] == "done", 60, "a command after the reloads", daemon)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    assert "daemon stopped" in _log(home)


def _fill(path):
    """Write a ballast file until the filesystem has no room left. Unbuffered: a buffered
    writer keeps the bytes a short last write left over and raises ENOSPC again on close,
    depending on how the free space happens to align with the chunk size."""
    with open(path, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)  # a short write returns its count; the next raises
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    assert os.statvfs(path.parent).f_bavail == 0


def _one_error_line(done):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, (done.returncode, done.stderr)
    assert lines[0].startswith("error: the disk holding") and "is full" in lines[0], lines
    return lines[0]


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MiB tmpfs mounted at `tmp_path/home` (unmounted after the test): room for the
    replay's database and the artifacts pruning keeps, so only the ballast fills it."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(home)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield home
    finally:
        for proc in daemon_fixture.SPAWNED:  # nothing may hold the mount
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        subprocess.run(["umount", "-l", str(home)], check=True)


def test_a_full_disk_is_one_line_then_the_daemon_waits_and_goes_on(small_disk):
    home = small_disk
    out = home.parent / "home.out"  # the daemon's stderr, outside the small disk
    ballast = home / "ballast"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0
    replay = ("daemon", "--replay", "--speed", "4")
    fast = {"ASSISTANT_MODELS_KINDS": "markov,rules"}  # the first session's retrain: seconds
    daemon = spawn(home, *replay, "--from", "2013-01-02", extra_env=fast)
    wait_for(lambda: _state(home)[1], 180, "the replay to start", daemon)

    _fill(ballast)
    wait_for(lambda: "waiting for room" in out.read_text(), 60, "the full disk", daemon)
    full = [line for line in out.read_text().splitlines() if "waiting for room" in line]
    assert len(full) == 1 and "ERROR" in full[0] and "is full" in full[0], full
    assert "Traceback" not in out.read_text()
    # A CLI write meanwhile: one error line, a non-zero exit, nothing half-written -- or,
    # when it fits in WAL frames SQLite had already allocated (a checkpoint lets the WAL be
    # rewritten from its start without new blocks), a complete write. Never anything else.
    # (The deterministic case, a write that needs new blocks, is tested after the stop.)
    _fill(ballast)  # again: the daemon's checkpoint may have cut its WAL back, freeing room
    during = cli(home, "watch", "add", "^IXIC")
    if during.returncode == 0:
        assert query(home, "SELECT COUNT(*) FROM symbols WHERE symbol = '^IXIC'") == [(1,)]
    else:
        _one_error_line(during)
    assert daemon.poll() is None

    ballast.unlink()
    wait_for(lambda: "the disk has room again" in out.read_text(), 120, "the recovery", daemon)
    # One line for the whole wait, however many tries it took.
    text = out.read_text()
    assert text[: text.index("the disk has room again")].count("waiting for room") == 1
    wait_for(lambda: _state(home)[0] == "finished", 180, "the replay to finish", daemon)
    # Nothing lost: every session has its calls; no run is left 'running'.
    sessions = {d.strftime("%Y-%m-%d") for d in calendar.sessions("XNYS", "2013-01-02", END)}
    called = {r[0] for r in query(home, "SELECT DISTINCT as_of FROM predictions")}
    assert sessions <= called, sorted(sessions - called)[:5]
    assert query(home, "SELECT COUNT(*) FROM job_runs WHERE status = 'running'") == [(0,)]
    # The full disk may be met inside a job (that run is recorded failed, now or once there
    # is room) or between jobs (the loop's own state write: no run to record); either way
    # no run failed for another reason.
    failed = query(home, "SELECT message FROM job_runs WHERE status = 'failed'")
    assert all("is full" in m for (m,) in failed), failed
    assert cli(home, "watch", "add", "^IXIC").returncode == 0  # room again: it works

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0

    # Started on a full disk (the database's -wal and -shm files are gone after the clean
    # stop and cannot be created): one error line; with room again it starts.
    _fill(ballast)
    _one_error_line(cli(home, *replay, timeout=60))
    _one_error_line(cli(home, "watch", "add", "^DJI"))
    ballast.unlink()
    daemon = spawn(home, *replay, extra_env=fast)
    wait_for(lambda: _state(home)[0] == "finished", 180, "the restarted replay", daemon)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    assert query(home, "PRAGMA integrity_check") == [("ok",)]
    assert "Traceback" not in out.read_text()


def test_after_a_big_collection_the_wal_is_cut_back(tmp_path):
    home = tmp_path / "home"
    open_db(home).close()
    daemon = spawn(home, "daemon", extra_env={"ASSISTANT_COLLECT_HISTORY_YEARS": "10"})
    wait_for(lambda: _state(home)[0] == "running", 60, "the daemon to run", daemon)
    db = open_db(home)  # a reader that stays, as the dashboard does
    try:
        every = ["^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"]
        cid = commands.enqueue(db, cmd.WatchAdd(tuple(every)))
        wait_for(lambda: _command(home, cid)[0] == "done", 120, "the collection", daemon)
        assert query(home, "SELECT COUNT(*) FROM bars")[0][0] > 10_000
        wal = (home / "assistant.db-wal").stat().st_size
        assert wal <= WAL_LIMIT_BYTES < (home / "assistant.db").stat().st_size, wal
    finally:
        db.close()
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0


def _limited(kib: int):
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, resource.RLIM_INFINITY))

    return limit


def test_a_file_size_limit_is_one_line_and_the_database_stays_whole(tmp_path):
    """`ulimit -f` (a login limit on shared machines): SQLite reports the write past it as
    "disk I/O error", and `collect` ended in a traceback. Now one line that names the limit,
    exit 1, the database intact; with the limit lifted the same collect completes."""
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "AAPL", "MSFT", "IBM").returncode == 0
    cmd = [sys.executable, "-m", "assistant", "--home", str(home), "collect", "--source", "sample"]
    ran = subprocess.run(
        cmd,
        cwd=daemon_fixture.ROOT,
        env=daemon_fixture.env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited(600),
    )
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
    (line,) = ran.stderr.strip().splitlines()
    assert line.startswith(f"error: a file in {home} reached this process's file-size limit")
    assert "600 KiB" in line and "ulimit -f" in line
    assert query(home, "PRAGMA integrity_check") == [("ok",)]
    done = cli(home, "collect", "--source", "sample")
    assert done.returncode == 0, done.stderr
    assert query(home, "SELECT COUNT(DISTINCT symbol) FROM bars") == [(3,)]


def test_no_room_names_its_cause():
    from pathlib import Path

    from store.db import cannot_write, cannot_write_error

    here = Path(__file__).parent
    quota = OSError(errno.EDQUOT, "Disk quota exceeded")
    too_big = OSError(errno.EFBIG, "File too large")
    assert cannot_write(quota) and cannot_write(too_big)
    assert str(cannot_write_error(here, quota)).startswith(f"the disk quota for {here} is used up")
    assert "file-size limit" in str(cannot_write_error(here, too_big))
    full = OSError(errno.ENOSPC, "No space left on device")
    assert str(cannot_write_error(here, full)).startswith(f"the disk holding {here} is full")
    assert not cannot_write(OSError(errno.EIO, "Input/output error"))


def test_a_write_lock_held_past_the_busy_timeout_is_waited_out(tmp_path):
    """Another process holding the write lock for longer than the busy timeout (10 s): an
    import of a big file, a `sqlite3` shell or a database browser with a transaction open.
    The replay daemon died with `database is locked` tracebacks, its stop unrecorded. Now it
    logs one line, waits, and goes on once the lock is let go, losing no session; a CLI
    write meanwhile is one error line."""
    home = tmp_path / "home"
    out = home.parent / "home.out"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0
    fast = {"ASSISTANT_MODELS_KINDS": "markov,rules"}
    daemon = spawn(
        home, "daemon", "--replay", "--speed", "4", "--from", "2013-01-02", extra_env=fast
    )
    wait_for(lambda: _state(home)[1], 180, "the replay to start", daemon)

    holder = sqlite3.connect(home / "assistant.db", isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # held until the daemon says it waits
    try:
        wait_for(lambda: "waiting for the lock" in out.read_text(), 120, "the wait", daemon)
        during = cli(home, "watch", "add", "^IXIC")
        lines = during.stderr.strip().splitlines()
        assert during.returncode == 1 and len(lines) == 1, during.stderr
        assert "write lock for over 10 s" in lines[0] and lines[0].startswith("error: another")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait_for(lambda: "takes writes again" in out.read_text(), 180, "the way on", daemon)
    text = out.read_text()
    assert "Traceback" not in text
    assert text.count("waiting for the lock") == 1  # one line for the whole wait
    wait_for(lambda: _state(home)[0] == "finished", 240, "the replay to finish", daemon)
    sessions = {d.strftime("%Y-%m-%d") for d in calendar.sessions("XNYS", "2013-01-02", END)}
    called = {r[0] for r in query(home, "SELECT DISTINCT as_of FROM predictions")}
    assert sessions <= called, sorted(sessions - called)[:5]
    assert query(home, "SELECT COUNT(*) FROM job_runs WHERE status = 'running'") == [(0,)]
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
