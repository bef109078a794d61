"""Partial backup copies that a killed backup leaves behind, and their clean-up.

A backup writes its copy to a hidden temporary file beside the target and renames it
into place at the end. SIGKILL (or a power cut) in between leaves that file for good,
as big as the database, somewhere the home does not know about. So a running backup
first records the temporary's path in `<home>/partial-backups/`, one small file per
backup that it keeps locked (`fcntl.flock`) while it runs; the kernel drops the lock
when the process dies, however it dies. `sweep` (run by the next backup, `check` and the
daemon's start) removes the copy of every record whose lock is free, and the record.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

DIRNAME = "partial-backups"
# What SQLite may create beside a database file it writes.
SIDE_FILES = ("", "-journal", "-wal", "-shm")


@contextlib.contextmanager
def recorded(home: Path, tmp: Path) -> Iterator[None]:
    """Record `tmp` as a backup in progress for as long as the block runs. A home that
    cannot be written (a read-only mount) gets no record: the backup still runs, and only
    a SIGKILL in the middle of it would leave its copy for the user to remove."""
    folder = Path(home) / DIRNAME
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        record = folder / f"{os.getpid()}-{tmp.name}"
        fd = os.open(record, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, os.fsencode(str(Path(tmp).absolute())))
        os.fsync(fd)
        yield
    finally:
        record.unlink(missing_ok=True)
        os.close(fd)  # the lock goes with it


def sweep(home: Path) -> list[tuple[Path, int]]:
    """Remove what killed backups left: [(path, bytes freed)], nothing for a live backup."""
    folder = Path(home) / DIRNAME
    try:
        records = sorted(folder.iterdir())
    except OSError:  # no folder: no backup ever ran, or none was ever killed
        return []
    removed = []
    for record in records:
        try:
            fd = os.open(record, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its backup is running
            tmp = Path(os.fsdecode(os.read(fd, 4096)))
            if tmp.name.startswith(".") and tmp.name.endswith(".tmp"):  # never anything else
                for suffix in SIDE_FILES:
                    part = tmp.with_name(tmp.name + suffix)
                    with contextlib.suppress(OSError):
                        size = part.stat().st_size
                        part.unlink()
                        removed.append((part, size))
            with contextlib.suppress(OSError):  # a read-only home keeps its record
                record.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return removed


def swept_message(removed: list[tuple[Path, int]]) -> str:
    """One line saying what `sweep` removed."""
    total = sum(size for _, size in removed) / 1e6
    names = ", ".join(str(p) for p, _ in removed)
    return f"removed what an interrupted backup left behind ({total:.1f} MB): {names}"
