"""The daemon notices that the database file at its home's path is no longer the one it
opened (a restore without stopping it first, a file copied onto it): it says so and stops
cleanly, with a distinct exit status, instead of writing on into a file nobody reads."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from assistant import config
from assistant.daemon.loop import EXIT_REPLACED, Daemon
from store.db import backup, open_db

NY = ZoneInfo("America/New_York")


pytestmark = pytest.mark.usefixtures("fresh_calendars")


def _restore_without_stopping(home, copy):
    """The README's restore, done while the daemon runs: move the live files aside, copy
    the backup in."""
    _move_aside(home, copy)
    shutil.copy2(copy, home / "assistant.db")


def _move_aside(home, copy):
    """The restore's first half: the live files moved aside, nothing in their place yet."""
    for suffix in ("", "-wal", "-shm"):
        live = home / f"assistant.db{suffix}"
        if live.exists():
            os.replace(live, home / f"aside.db{suffix}")


def _run(home, tmp_path, caplog, change):
    copy = tmp_path / "backup.db"
    db = open_db(home)
    backup(db, copy)
    db.close()
    settings = config.load(home)
    ticks = []
    with time_machine.travel(datetime(2024, 3, 13, 12, 0, tzinfo=NY), tick=False):
        daemon = Daemon(home, settings, log_to_stderr=False)

        def sleep(_seconds):
            ticks.append(1)
            if len(ticks) == 1:
                change(home, copy)
            elif len(ticks) > 3:
                daemon.stop.set()  # never noticed: the test fails on the status below

        daemon.sleep = sleep
        with caplog.at_level(logging.INFO, logger="assistant.daemon"):
            rc = daemon.run()
    return rc, len(ticks)


@pytest.mark.parametrize(
    "change, said",
    [
        (_restore_without_stopping, "was replaced by another file"),
        # (its -wal and -shm stay: SQLite reads them into the new file, the reason `backup`
        # refuses this target; the daemon must notice all the same)
        (
            lambda home, copy: os.replace(copy, home / "assistant.db"),
            "was replaced by another file",
        ),
        (_move_aside, "is gone (moved or deleted)"),
    ],
    ids=["readme-restore", "copied-onto", "moved-away"],
)
def test_the_daemon_stops_when_its_database_file_is_replaced(home, tmp_path, caplog, change, said):
    home.mkdir(mode=0o700)
    rc, ticks = _run(home, tmp_path, caplog, change)
    assert rc == EXIT_REPLACED
    assert ticks == 1  # noticed on the very next tick
    path = home / "assistant.db"
    assert (
        f"{path} {said} while the daemon ran (a restore without `assistant stop` first, or a "
        "file copied onto it)"
    ) in caplog.text
    assert "daemon stopped" in caplog.text
    if said.startswith("is gone"):  # stopping never creates a new, empty home in its place
        assert not path.exists()
    elif change is _restore_without_stopping:
        db = open_db(home)  # the restored file is sound and the daemon's stop did not touch it
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            # (taken before the daemon started: its start and stop went to the old file)
            assert db.execute("SELECT * FROM daemon").fetchall() == []
        finally:
            db.close()


def test_a_daemon_whose_file_stays_put_runs_on(home, tmp_path, caplog):
    home.mkdir(mode=0o700)
    rc, ticks = _run(home, tmp_path, caplog, lambda home, copy: None)
    assert rc == 0 and ticks == 4


_RACE = r"""
import logging, os, sys, threading
from pathlib import Path

from assistant import config
from assistant.daemon import worker as worker_module
from assistant.daemon.worker import TrainingWorker, TrainRequest
from store.db import backup, open_db

logging.basicConfig(level=logging.ERROR, stream=sys.stdout, format="%(message)s")
home, spare = Path(sys.argv[1]), Path(sys.argv[2])
db = open_db(home)  # the daemon's own connection: its -shm is mapped from here on
db.execute("CREATE TABLE IF NOT EXISTS t (x)")
db.execute("INSERT INTO t VALUES (1)")
db.conn.commit()
st = os.stat(home / "assistant.db")
backup(db, spare)
real_open_db = worker_module.open_db
if sys.argv[3] == "before":  # copied onto before the training was asked
    os.replace(spare, home / "assistant.db")

def copied_onto_then_opened(*args, **kwargs):
    if sys.argv[3] == "at-open":  # the copy lands just as the training thread opens
        os.replace(spare, home / "assistant.db")
    return real_open_db(*args, **kwargs)

worker_module.open_db = copied_onto_then_opened
training = TrainingWorker(
    home, config.load(home), threading.Event(), file_id=lambda: (st.st_dev, st.st_ino)
)
training.submit(TrainRequest("test"))
assert training.join(60)
for i in range(50):  # the daemon writes on (into the file it opened) and stops cleanly
    db.execute("INSERT INTO t VALUES (?)", [i])
    db.conn.commit()
print("rows", db.execute("SELECT count(*) FROM t").fetchone()[0])
db.close()
"""


@pytest.mark.parametrize("when", ["before", "at-open"])
def test_a_training_never_opens_a_file_copied_onto_the_database(home, tmp_path, when):
    """A training thread must not open a file moved onto the database (its -wal and -shm
    left beside it): SQLite in the same process would reset the -shm the daemon's own
    connection has mapped, and the daemon dies of SIGBUS or reads wrong pages instead of
    stopping cleanly with EXIT_REPLACED. `at-open`: the copy lands after any check made
    before the thread connects (one CI run lost a pytest worker so): the open itself must
    refuse a file that is not the one the daemon opened. A real process: the failure is
    the whole process dying."""
    import subprocess
    import sys

    home.mkdir(mode=0o700)
    out = subprocess.run(
        [sys.executable, "-c", _RACE, str(home), str(tmp_path / "spare.db"), when],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    assert "training not started" in out.stdout and "was replaced" in out.stdout
    assert "rows 51" in out.stdout
