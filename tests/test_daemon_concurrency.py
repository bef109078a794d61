"""A writer process inserts commands while the daemon writes flat out: no "database is locked".

The writer runs at least `$DAEMON_WRITER_SECONDS` (default 10 s here;
`bench/bench_daemon_writer.py` runs the issue's 60 s) and until the daemon has replayed 25
sessions, however slow the machine.
"""

from __future__ import annotations

import os

import pytest

from tests.daemon_fixture import writer_scenario


@pytest.mark.slow
def test_writer_process_and_daemon_never_see_database_is_locked(tmp_path):
    seconds = float(os.environ.get("DAEMON_WRITER_SECONDS", "10"))
    # The writer goes on until the daemon has replayed 25 sessions and 150 commands went in:
    # a loaded machine takes longer, it does not change what is checked.
    result = writer_scenario(tmp_path / "home", seconds, min_sessions=25, min_accepted=150)
    assert not result["capped"], result
    assert result["locked"] == 0 and result["other_errors"] == 0, result
    assert result["daemon_locked_errors"] == 0, result
    assert result["accepted"] >= 150, result
    # Every accepted command was served; none is lost or left running.
    assert set(result["commands"]) <= {"done", "failed"}, result
    assert sum(result["commands"].values()) == result["accepted"], result
    assert result["daemon_rc"] == 0, result
    assert result["sessions_replayed"] >= 25, result
