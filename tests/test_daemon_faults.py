"""Crash safety with real daemon subprocesses: kill -9 mid-job, restart, nothing lost or doubled."""

from __future__ import annotations

import signal
import time

import pytest

from assistant import calendar
from store import commands
from store.db import open_db
from tests.daemon_fixture import (
    assert_died_inside,
    cli,
    integrity_ok,
    job_running,
    kill9,
    load_factor,
    query,
    spawn,
    wait_for,
    wait_inside,
)
from vocab import commands as schema

FROM, END = "2013-02-01", "2013-03-01"
REPLAY = ("daemon", "--replay", "--speed", "0")

pytestmark = pytest.mark.slow


def _watch(home):
    out = cli(home, "watch", "add", "^GSPC", "^IXIC")
    assert out.returncode == 0, out.stderr


def _state(home):
    rows = query(home, "SELECT state, sim_date FROM daemon")
    return rows[0] if rows else (None, None)


def _assert_ledger_complete(home, start=FROM):
    """Every session of the replay has exactly one call per symbol and horizon."""
    sessions = {d.strftime("%Y-%m-%d") for d in calendar.sessions("XNYS", start, END)}
    rows = query(
        home,
        "SELECT symbol, as_of, horizon, COUNT(*) FROM predictions "
        "WHERE as_of >= ? GROUP BY symbol, as_of, horizon",
        (start,),
    )
    doubled = [r for r in rows if r[3] != 1]
    assert not doubled, f"sessions with more than one call: {doubled[:5]}"
    seen = {(s, d, h) for s, d, h, _ in rows}
    missing = {(s, d, h) for s in ("^GSPC", "^IXIC") for d in sessions for h in (1, 3, 5)} - seen
    assert not missing, f"{len(missing)} calls lost, e.g. {sorted(missing)[:5]}"


def _stop(proc, within=10.0):
    within *= load_factor()  # like every wait here: a busy machine only takes longer
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(within + 5)
    took = time.monotonic() - t0
    assert rc == 0 and took < within, f"rc {rc} after {took:.1f} s"


def test_kill9_during_collection_then_restart_resumes_and_loses_nothing(tmp_path):
    home = tmp_path / "home"
    _watch(home)
    proc = spawn(home, *REPLAY, "--from", FROM, slow="collect", slow_s=0.6)
    wait_for(lambda: _state(home)[1], 40, "the first replay session", proc)
    first = _state(home)[1]
    wait_for(lambda: job_running(home, "collect"), 20, "a collection in progress", proc)
    # inside a fetch, after another symbol's fetch went through (between two symbols' writes)
    wait_inside(home, proc, 40, after_another=True)
    kill9(proc)
    assert_died_inside(home, proc)

    assert integrity_ok(home)
    # The lock file still names the dead pid, but the kernel released the lock.
    assert (home / "daemon.lock").read_text().strip() == str(proc.pid)
    status = cli(home, "status", "--json")
    assert '"running": false' in status.stdout, status.stdout

    again = spawn(home, *REPLAY)  # no --from: resumes after the last completed session
    wait_for(lambda: _state(home)[0] == "finished", 60, "the replay to finish", again)
    assert query(
        home, "SELECT COUNT(*) FROM job_runs WHERE status = 'running' AND job = 'collect'"
    ) == [(0,)]
    interrupted = query(home, "SELECT job, message FROM job_runs WHERE status = 'interrupted'")
    assert ("collect", "the daemon stopped during this run") in interrupted
    assert query(home, "SELECT MIN(as_of) FROM predictions") == [(first,)]
    _assert_ledger_complete(home, first)
    _stop(again)
    assert integrity_ok(home)


def test_kill9_during_cycle_and_commands_rerun_or_fail_with_reason(tmp_path):
    home = tmp_path / "home"
    _watch(home)
    db = open_db(home)

    def cmd(cid):
        return commands.get(db, cid)

    proc = spawn(home, *REPLAY, "--from", FROM, slow="cycle", slow_s=1.5)
    wait_for(lambda: _state(home)[1], 40, "the first replay session", proc)
    a = commands.enqueue(db, schema.Predict(("^GSPC",)))
    wait_for(
        lambda: cmd(a)["status"] == "running" and job_running(home, "cycle"), 20, "command A", proc
    )
    wait_inside(home, proc, 20)  # the cycle has inserted its calls and not committed
    kill9(proc)
    assert_died_inside(home, proc)
    assert integrity_ok(home)
    assert cmd(a)["status"] == "running"  # claimed by the dead daemon

    # Interrupted once: re-queued at restart and run again to the end.
    proc = spawn(home, *REPLAY, slow="cycle", slow_s=1.5)
    wait_for(lambda: cmd(a)["status"] == "done", 40, "command A to be re-run", proc)
    assert cmd(a)["interruptions"] == 1

    # Interrupted twice: failed at the next start, with the reason on its row.
    d = commands.enqueue(db, schema.Predict())
    for i in range(2):
        # (interruptions == i: claimed by this daemon, not a stale row left by the killed one)
        wait_for(
            lambda i=i: (
                (r := cmd(d))["status"] == "running"
                and r["interruptions"] == i
                and job_running(home, "cycle")
            ),
            40,
            "command D",
            proc,
        )
        wait_inside(home, proc, 20)  # its calls inserted, not committed
        kill9(proc)
        assert_died_inside(home, proc)
        assert integrity_ok(home)
        proc = spawn(home, *REPLAY, slow="cycle", slow_s=1.5) if i == 0 else spawn(home, *REPLAY)
    later = commands.enqueue(db, schema.Verify())
    wait_for(lambda: _state(home)[0] == "finished", 60, "the replay to finish", proc)
    wait_for(lambda: cmd(later)["status"] == "done", 20, "a later command", proc)
    row = cmd(d)
    assert row["status"] == "failed" and "interrupted 2 times" in row["error"], row
    _assert_ledger_complete(home)
    _stop(proc)
    db.close()
    assert integrity_ok(home)
