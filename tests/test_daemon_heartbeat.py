"""A busy daemon keeps beating (a slow collection is not "offline"); a hung one stops."""

from __future__ import annotations

import threading
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
    """On the thread's own turns (counted), not on wall-clock spans: its clock is injected."""
    open_db(home).close()
    beats: list[float] = []
    now = [0.0]
    monkeypatch.setattr(daemon_state, "heartbeat", lambda db, **kw: beats.append(now[0]))
    beat = BusyBeat(home, 0.01, max_busy_s=0.3, clock=lambda: now[0])

    class CountedStop(threading.Event):
        turns = 0

        def wait(self, timeout=None):  # the loop's one wait per turn
            CountedStop.turns += 1
            return super().wait(timeout)

    beat._stop = CountedStop()

    def turns_pass(n: int) -> None:
        # `n` more turns have begun after this point: every turn before them has ended
        target = CountedStop.turns + n + 1
        wait_for(lambda: CountedStop.turns >= target, 30, f"{n} heartbeat turns")

    beat.start()
    try:
        turns_pass(5)
        assert beats == []  # idle for 5 turns: the loop beats for itself
        with beat:  # a step starts at t = 0
            turns_pass(5)
            assert len(beats) >= 5  # it beat on each turn while the step was young...
            now[0] = 0.29
            turns_pass(2)
            young = len(beats)
            turns_pass(3)
            assert len(beats) >= young + 3  # ...up to its max_busy_s
            now[0] = 0.31  # the step is stuck past max_busy_s
            turns_pass(2)  # (a turn that read the clock before may still beat once)
            stuck = len(beats)
            turns_pass(5)
            assert len(beats) == stuck  # ...and stopped once it was older than 0.3 s
    finally:
        beat.close()


def test_beats_never_go_to_a_file_copied_onto_the_database(home, tmp_path, monkeypatch):
    """The beat's thread connects after the loop opened the database; a file copied onto
    the path in between is not the daemon's: the thread refuses it and never beats."""
    import os

    from store.db import DB_FILENAME, backup, file_id

    db = open_db(home)
    opened = file_id(home / DB_FILENAME)
    backup(db, tmp_path / "copy.db")
    db.close()
    os.replace(tmp_path / "copy.db", home / DB_FILENAME)
    beats: list[object] = []
    monkeypatch.setattr(daemon_state, "heartbeat", lambda db, **kw: beats.append(db))
    beat = BusyBeat(home, 0.01, expect=opened).start()
    with beat:
        beat._thread.join(30)  # it ends at once: it has nothing to beat into
    alive = beat._thread.is_alive()
    beat.close()
    assert not alive and beats == []
