"""`assistant check` on a home an older version wrote (a restored backup, a home left
untouched across upgrades): it says how far behind the schema is and changes nothing.
Before, it ended in a traceback (`no such table: hourly_bars`) on any home from before the
hourly bars, right after the restore steps that tell you to run it."""

from __future__ import annotations

import json

import pytest

from store.db import DB_FILENAME, connect
from store.schema import MIGRATIONS
from tests.cli_fixture import run_cli


def _applied(home) -> int:
    db = connect(home / DB_FILENAME)
    try:
        return len(MIGRATIONS.applied(db))
    finally:
        db.close()


@pytest.mark.parametrize("before", ["m002_cycle_learning", "m018_hourly_bars"])
def test_check_on_an_older_schema_says_so_and_changes_nothing(home, before):
    home.mkdir(parents=True)
    older = connect(home / DB_FILENAME)
    MIGRATIONS.apply(older, stop_before=before)  # what that older version left
    older["symbols"].insert(
        {"symbol": "AAPL", "active": 1, "source": "sample", "added_at": "2026-01-05T00:00:00"}
    )
    applied = len(MIGRATIONS.applied(older))
    behind = len(MIGRATIONS._migrations) - applied
    older.close()

    done = run_cli(home, "check")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    schema = [line for line in lines if line.startswith("schema:")]
    assert len(schema) == 1, done.stdout
    assert f"{behind} upgrade steps behind ({before} … " in schema[0]
    assert "integrity_check passed" in done.stdout and "daemon: not running" in done.stdout
    assert _applied(home) == applied  # check wrote nothing

    data = json.loads(run_cli(home, "check", "--json").stdout)
    assert data["ok"] is True
    assert data["database"]["schema_steps_pending"][0] == before
    assert len(data["database"]["schema_steps_pending"]) == behind

    # any other command upgrades it; then check reads what the new steps added
    assert run_cli(home, "watch", "list").returncode == 0
    after = run_cli(home, "check")
    assert after.returncode == 0, after.stderr
    assert "schema:" not in after.stdout and "hourly bars: none" in after.stdout
