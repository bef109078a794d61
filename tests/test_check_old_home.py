"""`assistant check` on a database another version wrote. An older one (a restored backup, a
home left untouched across upgrades): it says how far behind the schema is and changes
nothing; before, it ended in a traceback (`no such table: hourly_bars`) on any home from
before the hourly bars, right after the restore steps that tell you to run it. A newer one:
intact, so not "DAMAGED" with the steps that restore a backup over it."""

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


def test_check_on_a_newer_versions_database_is_not_called_damaged(home):
    """A database a newer version migrated (another checkout, a program rolled back): check
    called it DAMAGED and gave the steps that put a backup in its place, losing what the
    newer version stored. It is intact: one schema line, and the way out is the newer
    program."""
    assert run_cli(home, "watch", "add", "AAPL").returncode == 0
    db = connect(home / DB_FILENAME)
    with db.conn:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('trading-assistant', 'm999_from_the_future', '2030-01-01')"
        )
    db.close()

    done = run_cli(home, "check")
    assert done.returncode == 1
    assert "DAMAGED" not in done.stdout and "integrity_check passed" in done.stdout
    assert "schema: the database was written by a newer version" in done.stdout
    assert "m999_from_the_future" in done.stdout
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: schema failed the check; nothing is damaged")
    assert "backup" in err[0] and "move" not in err[0]  # no recovery steps to follow

    data = json.loads(run_cli(home, "check", "--json").stdout)
    assert data["ok"] is False and data["failed"] == ["schema"]
    assert data["database"]["status"] == "ok" and data["database"]["problems"] == []
