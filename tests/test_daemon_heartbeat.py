"""A busy daemon keeps beating (a slow collection is not "offline"); a hung one stops."""

from __future__ import annotations

import time

import pytest

from assistant.daemon.heartbeat import BusyBeat
from store import daemon_state
from store.db import open_db
from tests.daemon_fixture import cli, job_running, query, spawn, wait_for


@pytest.mark.slow
def test_heartbeat_stays_fresh_during_a_slow_collection(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    # Every fetch takes 4 s: one collection step of two symbols lasts 8 s, while the
    # dashboard calls a daemon offline after 3 missed 1-second heartbeats.
    proc = spawn(
        home, "daemon", "--replay", "--speed", "0", "--from", "2013-02-01", slow="collect", slow_s=4
    )
    wait_for(lambda: job_running(home, "collect"), 30, "a collection in progress", proc)
    first = query(home, "SELECT heartbeat_at FROM daemon")[0][0]
    time.sleep(2.5)
    second = query(home, "SELECT heartbeat_at FROM daemon")[0][0]
    assert job_running(home, "collect"), "the collection ended too early to tell"
    assert second > first


def test_beats_only_while_busy_and_gives_up_on_a_hung_step(home, monkeypatch):
    open_db(home).close()
    beats: list[float] = []
    monkeypatch.setattr(daemon_state, "heartbeat", lambda db, **kw: beats.append(time.monotonic()))
    beat = BusyBeat(home, 0.02, max_busy_s=0.3).start()
    try:
        time.sleep(0.2)
        assert beats == []  # idle: the loop beats for itself
        with beat:
            time.sleep(0.6)  # a step stuck past max_busy_s
        busy = list(beats)
    finally:
        beat.close()
    assert len(busy) >= 5  # it beat while the step was young...
    assert max(busy) - min(busy) < 0.35  # ...and stopped once it was older than 0.3 s
