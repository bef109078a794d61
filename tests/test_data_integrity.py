"""A damaged database is refused before anything is written; `check` and `backup` as a user runs them."""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3

import pytest

from tests import daemon_fixture
from tests.cli_fixture import cli
from tests.daemon_fixture import integrity_ok, query, spawn, wait_for

# Every command that writes, and backup (its copy would carry the damage).
WRITERS = [
    ("watch", "add", "GOOG"),
    ("watch", "remove", "MSFT"),
    ("collect",),
    ("predict",),
    ("verify",),
    ("train", "--models", "markov"),
    ("backtest", "--models", "markov"),
    ("start",),
    ("daemon", "--replay", "--speed", "0"),
    ("backup", "copy.db"),
]
# Readers skip quick_check (it costs a full read of the file); they never write either.
READERS = [("watch", "list"), ("report",), ("predictions",), ("status",)]


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _corrupt_a_bars_page(db_path) -> int:
    """Overwrite the middle of one leaf page of the bars table (the header page is untouched)."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            r[0]
            for r in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'bars' AND pagetype = 'leaf' ORDER BY pageno"
            )
        ]
    finally:
        conn.close()
    page = leaves[len(leaves) // 2]
    assert page > 1
    garbage = random.Random(7).randbytes(size // 2)
    with open(db_path, "r+b") as f:
        f.seek(
            (page - 1) * size + 8
        )  # from the cell pointer array on: what a bad sector looks like
        f.write(garbage)
    return page


@pytest.fixture(scope="module")
def damaged_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("damaged") / "home"
    assert cli(home, "watch", "add", "AAPL", "MSFT").returncode == 0
    assert cli(home, "collect").returncode == 0
    assert cli(home, "predict").returncode == 0
    _corrupt_a_bars_page(home / "assistant.db")
    conn = sqlite3.connect(home / "assistant.db")
    assert conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]  # the damage is real
    conn.close()
    return home


@pytest.mark.parametrize("args", WRITERS, ids=[" ".join(a) for a in WRITERS])
def test_every_command_that_writes_refuses_a_damaged_database_and_writes_nothing(
    damaged_home, args
):
    db = damaged_home / "assistant.db"
    before = _digest(db)
    # a daemon must refuse, not run: a real process for those (an in-process one would stay)
    run = daemon_fixture.cli if args[0] in ("start", "daemon") else cli
    out = run(damaged_home, *args, timeout=120)
    assert out.returncode != 0, (args, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    if args[0] == "daemon":  # in the foreground its log goes to stderr too
        lines = [line for line in lines if " ERROR " not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "is damaged" in lines[0] and "assistant check" in lines[0]
    assert "assistant backup" in lines[0]  # the way back names the backup
    assert _digest(db) == before
    wal = damaged_home / "assistant.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert not (damaged_home / "copy.db").exists()


@pytest.mark.parametrize("args", READERS, ids=[" ".join(a) for a in READERS])
def test_a_reader_that_meets_the_damage_says_so_in_one_line(damaged_home, args):
    before = _digest(damaged_home / "assistant.db")
    out = cli(damaged_home, *args)
    assert "Traceback" not in out.stderr
    if args == ("watch", "list"):  # it counts every bar: it reads the damaged page
        assert out.returncode == 1
    if out.returncode != 0:
        [line] = out.stderr.strip().splitlines()
        assert line.startswith("error: ") and "is damaged" in line and "assistant check" in line
    assert _digest(damaged_home / "assistant.db") == before


def test_check_names_the_damage_and_the_way_back(damaged_home, tmp_path):
    db = damaged_home / "assistant.db"
    before = _digest(db)
    out = cli(damaged_home, "check")
    assert out.returncode == 1, out.stdout
    assert "database: DAMAGED" in out.stdout and "settings: ok" in out.stdout
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: database failed the check") and "backup" in line
    assert _digest(db) == before
    healthy = tmp_path / "healthy"
    assert cli(healthy, "watch", "add", "AAPL").returncode == 0
    out = cli(healthy, "check")
    assert out.returncode == 0, out.stderr
    assert "database: ok" in out.stdout and "integrity_check passed" in out.stdout
    assert "daemon: not running" in out.stdout


@pytest.mark.slow  # a real daemon process
def test_the_daemon_does_not_start_on_a_damaged_database(damaged_home):
    before = _digest(damaged_home / "assistant.db")
    daemon = spawn(damaged_home, "daemon", "--replay", "--speed", "0")
    assert daemon.wait(120) == 1
    assert _digest(damaged_home / "assistant.db") == before
    log = (damaged_home / "logs" / "daemon.log").read_text()
    assert "not starting" in log and "is damaged" in log


@pytest.mark.slow  # a real daemon process
def test_a_backup_taken_while_the_daemon_writes_is_sound_and_restores(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "AAPL", "MSFT").returncode == 0
    daemon = spawn(home, "daemon", "--replay", "--from", "2012-06-01", "--speed", "20")
    wait_for(
        lambda: query(home, "SELECT COUNT(*) FROM predictions")[0][0] > 0, 120, "calls", daemon
    )
    copies = []
    for i in range(3):  # the daemon goes on writing between and during the copies
        target = tmp_path / f"backup-{i}.db"
        out = cli(home, "backup", str(target))
        assert out.returncode == 0, out.stderr
        assert f"to {target}" in out.stdout and "quick_check passed" in out.stdout
        copies.append(target)
    assert daemon.poll() is None  # the daemon never noticed
    for target in copies:
        conn = sqlite3.connect(target)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        assert target.stat().st_mode & 0o077 == 0  # as private as the database itself
    # The README's restore: the copy becomes a home's assistant.db and every command opens it.
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy2(copies[-1], restored / "assistant.db")
    out = cli(restored, "watch", "list")
    assert out.returncode == 0 and "AAPL" in out.stdout and "MSFT" in out.stdout, out.stderr
    assert cli(restored, "check").returncode == 0
    assert cli(restored, "report").returncode == 0
    assert integrity_ok(home)
    daemon.terminate()
    assert daemon.wait(30) == 0


def test_backup_never_overwrites_without_force_and_fails_in_one_line(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "AAPL").returncode == 0
    target = tmp_path / "mine.db"
    target.write_bytes(b"my own file")
    out = cli(home, "backup", str(target))
    assert out.returncode == 1 and target.read_bytes() == b"my own file"
    [line] = out.stderr.strip().splitlines()
    assert line == f"error: {target} exists; --force replaces it"
    out = cli(home, "backup", str(target), "--force")
    assert out.returncode == 0, out.stderr
    assert target.read_bytes().startswith(b"SQLite format 3\x00")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for bad in (tmp_path / "no-such-dir" / "b.db", a_file / "b.db", tmp_path):
        out = cli(home, "backup", str(bad))
        assert out.returncode == 1, bad
        [line] = out.stderr.strip().splitlines()
        assert line.startswith("error: ") and str(bad) in line, line
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
