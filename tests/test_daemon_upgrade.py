"""An upgrade made under a running daemon: its source files change on disk (a `git pull` in
the editable install, `pip install -U`), or a newer version's command migrates the
database. The daemon runs itself again in place with the program now installed, instead
of running old code mixed with new modules it imports later, or writing into a schema it
does not know.

Real processes: the daemon runs from a copy of the project's packages (the current
directory comes first on `python -m`'s path), and the test edits that copy as a pull would.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon_fixture import ROOT, SPAWNED, env, query, wait_for

pytestmark = pytest.mark.slow

PACKAGES = ("assistant", "store", "models", "tui", "vocab")


def _checkout(tmp_path: Path) -> Path:
    code = tmp_path / "checkout"
    for name in PACKAGES:
        shutil.copytree(ROOT / name, code / name, ignore=shutil.ignore_patterns("__pycache__"))
    return code


def _spawn(code: Path, home: Path) -> subprocess.Popen:
    out = open(f"{home}.out", "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--home", str(home), "daemon"],
        cwd=code,
        env=env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    SPAWNED.append(proc)
    return proc


def _daemon_row(home: Path) -> tuple | None:
    if not (home / "assistant.db").exists():
        return None
    rows = query(home, "SELECT pid, version, state FROM daemon")
    return rows[0] if rows else None


def _started(home: Path, proc: subprocess.Popen) -> tuple:
    return wait_for(
        lambda: (r := _daemon_row(home)) and r[2] == "running" and r,
        timeout=120,
        what="the daemon running",
        proc=proc,
    )


def _log(home: Path) -> str:
    return "\n".join(p.read_text() for p in sorted((home / "logs").glob("daemon*.log*")))


def test_changed_program_files_restart_the_daemon_in_place_with_the_new_code(tmp_path):
    code, home = _checkout(tmp_path), tmp_path / "home"
    proc = _spawn(code, home)
    pid, version, _ = _started(home, proc)
    assert (pid, version) == (proc.pid, "0.1.0")
    # the pull: one module rewritten (the version a start records) and one file added
    init = code / "assistant" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.1.1"'))
    (code / "store" / "added_by_the_pull.py").write_text('"""A module the new version has."""\n')
    wait_for(
        lambda: (r := _daemon_row(home)) and r[1] == "0.1.1" and r[2] == "running",
        timeout=90,
        what="the daemon running the new code",
        proc=proc,
    )
    assert _daemon_row(home)[0] == proc.pid  # in place: `assistant stop` and systemd follow it
    log = _log(home)
    assert (
        "the program's files changed since the daemon started (2 files: "
        "assistant/__init__.py, store/added_by_the_pull.py, an upgrade?); stopping to run "
        "again with the new code"
    ) in log
    assert log.count("daemon started (pid") == 2
    proc.terminate()
    assert proc.wait(60) == 0


def test_a_database_migrated_by_a_newer_version_stops_the_daemon_with_one_line(tmp_path):
    code, home = _checkout(tmp_path), tmp_path / "home"
    proc = _spawn(code, home)
    _started(home, proc)
    conn = sqlite3.connect(home / "assistant.db", timeout=30)
    with conn:  # what a newer version's first command does to the file
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('trading-assistant', 'm999_from_the_future', '2026-12-08')"
        )
        conn.execute("ALTER TABLE predictions ADD COLUMN from_the_future REAL")
    conn.close()
    # it runs again with the program on disk, which is older than the file: that refuses
    rc = proc.wait(60 * 3)
    assert rc != 0
    log = _log(home)
    assert (
        "the database was upgraded by a newer trading-assistant while this daemon (0.1.0) ran "
        "(schema steps it does not know: m999_from_the_future); stopping so as not to write "
        "into a schema it does not know; running again with the program installed now"
    ) in log
    out = Path(f"{home}.out").read_text().strip().splitlines()
    assert out[-1] == (
        "error: the database was written by a newer version of trading-assistant (unknown "
        "schema steps: m999_from_the_future); upgrade the program"
    )
    assert "Traceback" not in "\n".join(out)
    assert query(home, "PRAGMA integrity_check") == [("ok",)]
