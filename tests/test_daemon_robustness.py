"""A daemon left running for months: bad rows, a full disk, SIGHUP, a restart after a
replay has finished. Each with a real daemon subprocess on a real SQLite file."""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest

from store import commands
from store.db import open_db
from tests.daemon_fixture import cli, query, spawn, wait_for

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
            commands.enqueue(db, "predict", {"symbols": ["^GSPC"]}),
            commands.enqueue(db, "collect", {}),
            commands.enqueue(db, "verify", {}),
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
        cid = commands.enqueue(db, "verify", {})
    finally:
        db.close()
    wait_for(lambda: _command(home, cid)[0] == "done", 60, "a command after the reloads", daemon)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    assert "daemon stopped" in _log(home)
