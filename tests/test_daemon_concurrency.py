"""A writer process inserts commands while the daemon writes flat out: no "database is locked".

The duration is `$DAEMON_WRITER_SECONDS` (default 10 s here; `bench/bench_daemon_writer.py`
runs the issue's 60 s).
"""

from __future__ import annotations

import os

import pytest

from tests.daemon_fixture import writer_scenario


@pytest.mark.slow
def test_writer_process_and_daemon_never_see_database_is_locked(tmp_path):
    seconds = float(os.environ.get("DAEMON_WRITER_SECONDS", "10"))
    result = writer_scenario(tmp_path / "home", seconds)
    assert result["locked"] == 0 and result["other_errors"] == 0, result
    assert result["daemon_locked_errors"] == 0, result
    assert result["accepted"] > 100, result
    # Every accepted command was served; none is lost or left running.
    assert set(result["commands"]) <= {"done", "failed"}, result
    assert sum(result["commands"].values()) == result["accepted"], result
    assert result["daemon_rc"] == 0, result
    assert result["sessions_replayed"] > 20, result
