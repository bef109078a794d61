"""Opening the database: WAL, busy timeout, foreign keys, private file modes, migrations.

Every process (daemon, CLI, TUI) opens its own connection through `open_db`. Writes are
short; queue claims use `immediate()` (BEGIN IMMEDIATE) so a read-then-write never
fails with SQLITE_BUSY halfway through.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from store.schema import MIGRATIONS, known_migration_names

BUSY_TIMEOUT_S = 10.0
DB_FILENAME = "assistant.db"
# A checkpoint that resets the WAL cuts it back to this; a WAL found bigger after a job
# is checkpointed with TRUNCATE (bulk writes would otherwise leave it bigger than the db).
WAL_LIMIT_BYTES = 1024 * 1024


class StoreError(Exception):
    """The database cannot be used: not SQLite, newer schema, not writable."""


class DiskFull(StoreError):
    """The disk holding the database has no room left (SQLITE_FULL or ENOSPC)."""


def is_disk_full(exc: BaseException, path: Path | None = None) -> bool:
    """Whether `exc` says the disk is full: nothing is wrong with the data, retry later.

    SQLite reports a full disk as SQLITE_FULL, except where it cannot create or grow its
    `-shm` file ("disk I/O error"): an I/O error while the filesystem of `path` has no
    free space left counts as a full disk too.
    """
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    if path is None or not (code is not None and code & 0xFF == sqlite3.SQLITE_IOERR):
        return False
    try:
        return os.statvfs(path).f_bavail == 0
    except OSError:
        return False


def disk_full_error(path: Path | None, exc: BaseException) -> DiskFull:
    """`exc` (a full disk) as one plain sentence naming the folder it hit."""
    if isinstance(exc, DiskFull):
        return exc
    where = f" holding {path if path.is_dir() else path.parent}" if path is not None else ""
    return DiskFull(f"the disk{where} is full ({exc}); free some space")


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing; tighten it if we own it."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise StoreError(f"data home {path} exists but is not a directory") from None
    except NotADirectoryError:
        raise StoreError(f"data home {path} cannot be created: a parent is a file") from None
    except PermissionError:
        raise StoreError(f"data home {path} cannot be created: permission denied") from None
    except OSError as exc:
        raise StoreError(f"data home {path} cannot be created: {exc.strerror}") from None
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except PermissionError:
        pass
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"data home {path} is not writable")
    return path


def _create_private_file(path: Path) -> None:
    # SQLite creates new files 0644 minus umask and WAL/SHM copy that mode: create 0600 first.
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def connect(path: Path) -> sqlite_utils.Database:
    """A configured connection without running migrations (readers use this too)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            db.enable_wal()
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_disk_full(exc, path):
            raise disk_full_error(path, exc) from None
        raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
    return db


def open_db(home: Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database in `home`, bring its schema up to date."""
    home = Path(home)
    ensure_private_dir(home)
    path = home / DB_FILENAME
    try:
        _create_private_file(path)
    except PermissionError:
        raise StoreError(f"cannot create {path}: permission denied") from None
    db = connect(path)
    try:
        check_schema(db)
        if migrate and MIGRATIONS.pending(db):
            with immediate(db):  # two processes opening a new home migrate one after the other
                if MIGRATIONS.pending(db):
                    MIGRATIONS.apply(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if is_disk_full(exc, path):
            raise disk_full_error(path, exc) from None
        raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
    except StoreError:
        db.close()
        raise
    return db


def check_schema(db: sqlite_utils.Database) -> None:
    """Refuse a database written by a newer version of the program."""
    applied = {m.name for m in MIGRATIONS.applied(db)}
    unknown = applied - known_migration_names()
    if unknown:
        raise StoreError(
            "the database was written by a newer version of trading-assistant "
            f"(unknown schema steps: {', '.join(sorted(unknown))}); upgrade the program"
        )


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock up front (BEGIN IMMEDIATE)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    else:
        db.execute("COMMIT")


def data_version(db: sqlite_utils.Database) -> int:
    """Changes whenever another connection commits: cheap change detection for readers."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


def checkpoint(db: sqlite_utils.Database) -> None:
    """Copy the WAL into the database; a WAL grown past WAL_LIMIT_BYTES is truncated to 0.

    TRUNCATE waits (up to the busy timeout) for readers to finish, so it runs only when
    the WAL is big: after bulk writes, not on every call.
    """
    path = file_of(db)
    wal = None if path is None else path.with_name(path.name + "-wal")
    try:
        big = wal is not None and wal.stat().st_size > WAL_LIMIT_BYTES
    except FileNotFoundError:
        big = False
    db.execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if big else 'PASSIVE'})")


def utcnow() -> str:
    """Wall-clock UTC time as ISO-8601 text: the one timestamp format in the store."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def date_range(start: str | None, end: str | None) -> tuple[str, list[str]]:
    """` AND date >= ? AND date <= ?` for the bounds given (both inclusive), with its parameters."""
    sql, params = "", list[str]()
    if start:
        sql, params = sql + " AND date >= ?", [*params, start]
    if end:
        sql, params = sql + " AND date <= ?", [*params, end]
    return sql, params


def file_of(db: sqlite_utils.Database) -> Path | None:
    """The database file behind a connection (None for an in-memory one)."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    return None
