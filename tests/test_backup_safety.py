"""`backup` never writes onto the live database, and never leaves its partial copy behind:
not on SIGTERM/SIGINT (removed at once), not on SIGKILL (removed by the next backup, `check`
or daemon start)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from assistant import config
from assistant.cli import main
from assistant.daemon.loop import Daemon
from store import partials
from store.db import open_db
from tests.daemon_fixture import integrity_ok, spawn, wait_for


@pytest.fixture
def made(home):
    db = open_db(home)
    db.execute("CREATE TABLE IF NOT EXISTS filler (x TEXT)")
    db.conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 2000)
    db.conn.commit()
    db.close()
    return home


def _one_error_line(capsys) -> str:
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    return lines[0]


def test_backup_refuses_the_database_itself_however_it_is_named(made, tmp_path, capsys):
    db_path = made / "assistant.db"
    keep = open_db(made)  # a daemon's connection: the -wal and -shm files exist meanwhile
    keep.execute("INSERT INTO filler VALUES ('live')")
    keep.conn.commit()
    inode = db_path.stat().st_ino
    (tmp_path / "link.db").symlink_to(db_path)
    os.link(db_path, tmp_path / "hard.db")
    targets = [
        db_path,
        made / ".." / made.name / "assistant.db",
        tmp_path / "link.db",
        tmp_path / "hard.db",
        made / "assistant.db-wal",
        made / "assistant.db-shm",
    ]
    for target in targets:
        rc = main(["--home", str(made), "backup", str(target), "--force"])
        line = _one_error_line(capsys)
        assert rc == 1, target
        assert line == (
            f"error: {target} is the home's database itself; back up to a file outside the "
            "home (the restore steps are in the README: Backup and restore)"
        )
    assert db_path.stat().st_ino == inode  # the live file is still the one in use
    assert keep.execute("SELECT COUNT(*) FROM filler WHERE x = 'live'").fetchone()[0] == 1
    keep.close()
    assert integrity_ok(made)
    # A file elsewhere is fine.
    assert main(["--home", str(made), "backup", str(tmp_path / "copy.db")]) == 0


def _leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}."))


def _records(home: Path) -> list[str]:
    folder = home / partials.DIRNAME
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _backup_held_with_its_copy_written(home: Path, target: Path):
    """A real `assistant backup` subprocess, held once its temporary copy is complete."""
    proc = spawn(home, "backup", str(target), slow="backup", slow_s=300)

    def copied() -> bool:
        return any((target.parent / n).stat().st_size > 400_000 for n in _leftovers(target))

    wait_for(copied, 60, "the temporary copy", proc)
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_backup_removes_its_partial_copy(made, tmp_path, sig):
    target = tmp_path / "out" / "copy.db"
    target.parent.mkdir()
    proc = _backup_held_with_its_copy_written(made, target)
    proc.send_signal(sig)
    assert proc.wait(30) == 128 + sig
    assert _leftovers(target) == [] and not target.exists()
    assert _records(made) == []
    said = Path(f"{made}.out").read_text().strip().splitlines()[-1]
    assert said == (
        f"backup interrupted by {sig.name}: {target} was not written "
        "and the partial copy was removed"
    )


@pytest.mark.slow
@pytest.mark.parametrize("then", ["backup", "check", "daemon"])
def test_what_a_killed_backup_left_is_removed_at_the_next_start(
    made, tmp_path, capsys, caplog, then
):
    target = tmp_path / "out" / "copy.db"
    target.parent.mkdir()
    proc = _backup_held_with_its_copy_written(made, target)
    [tmp] = _leftovers(target)
    size = (target.parent / tmp).stat().st_size
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert _leftovers(target) == [tmp]  # SIGKILL: nothing could clean up
    capsys.readouterr()
    if then == "daemon":
        daemon = Daemon(made, config.load(made), log_to_stderr=False)
        daemon.sleep = lambda s: daemon.stop.set()
        with caplog.at_level(logging.WARNING, logger="assistant.daemon"):
            assert daemon.run() == 0
        said = caplog.text
    else:
        args = ["backup", str(tmp_path / "other.db")] if then == "backup" else ["check"]
        assert main(["--home", str(made), *args]) == 0
        said = capsys.readouterr().err
    assert _leftovers(target) == []
    assert _records(made) == []
    assert (
        f"removed what an interrupted backup left behind ({size / 1e6:.1f} MB): "
        f"{target.parent / tmp}"
    ) in said


def test_a_running_backups_copy_is_left_alone(made, tmp_path):
    tmp = tmp_path / ".copy.db.1.tmp"
    with partials.recorded(made, tmp):
        tmp.write_bytes(b"in progress")
        assert partials.sweep(made) == []
        assert tmp.exists()
    assert _records(made) == []
