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
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

import sqlite_utils

from store.schema import MIGRATIONS, known_migration_names
from vocab.dates import session_text

BUSY_TIMEOUT_S = 10.0
DB_FILENAME = "assistant.db"
# A checkpoint that resets the WAL cuts it back to this; a WAL found bigger after a job
# is checkpointed with TRUNCATE (bulk writes would otherwise leave it bigger than the db).
WAL_LIMIT_BYTES = 1024 * 1024


class StoreError(Exception):
    """The root of the store's errors. Raised as itself: the database cannot be used (not
    SQLite, newer schema, not writable)."""


class CannotWrite(StoreError):
    """The database cannot be written now, though nothing is wrong with it: no room
    (DiskFull) or another connection's write lock (WriteLocked). Retried later wherever it
    is caught."""


class DiskFull(CannotWrite):
    """No room to write the database: the disk is full (SQLITE_FULL or ENOSPC), the user's
    disk quota is used up (EDQUOT), or a file reached the process's file-size limit
    (`ulimit -f`: EFBIG)."""


class WriteLocked(CannotWrite):
    """Another connection held the database's write lock past the busy timeout (an import
    of a big file, a `sqlite3` shell or a database browser with a transaction open)."""


NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY): the busy timeout ran out."""
    if isinstance(exc, WriteLocked):
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == sqlite3.SQLITE_BUSY) or str(exc) == (
        "database is locked"
    )


def _folder(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _size_limit_reached(path: Path) -> int | None:
    """The file-size limit (bytes) when a file of the database is within a page-cache
    flush of it: SQLite reports a write past the limit as a plain "disk I/O error"."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if soft == resource.RLIM_INFINITY:
        return None
    folder = _folder(path)
    for name in (DB_FILENAME, DB_FILENAME + "-wal"):
        try:
            if (folder / name).stat().st_size + 8 * 1024 * 1024 >= soft:
                return int(soft)
        except OSError:
            continue
    return None


def cannot_write(exc: BaseException, path: Path | None = None) -> bool:
    """Whether `exc` says the database cannot be written now: no room (DiskFull's three
    causes) or another connection's write lock held past the busy timeout (WriteLocked):
    CannotWrite.
    Nothing is wrong with the data: retry once there is room, or the lock is let go.

    SQLite reports a full disk as SQLITE_FULL, but a quota, a file-size limit, or a `-shm`
    file it cannot create or grow as "disk I/O error": such an I/O error counts when the
    filesystem of `path` has no free space left or a database file is at the file-size
    limit. (An exceeded quota with free space on the disk stays an I/O error: SQLite keeps
    no errno to tell it apart.)
    """
    if isinstance(exc, CannotWrite) or is_locked(exc):
        return True
    if isinstance(exc, OSError):
        return exc.errno in NO_ROOM
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    if path is None or not is_io_error(exc):
        return False
    try:
        return os.statvfs(path).f_bavail == 0 or _size_limit_reached(path) is not None
    except OSError:
        return False


def is_io_error(exc: BaseException) -> bool:
    """SQLite's "disk I/O error" (SQLITE_IOERR and its extended codes)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_IOERR


def cannot_write_error(path: Path | None, exc: BaseException) -> CannotWrite:
    """`exc` (no room to write, or the write lock held by another connection) as one plain
    sentence naming the folder it hit and why."""
    if isinstance(exc, CannotWrite):
        return exc
    if is_locked(exc):
        where = f"{_folder(path) / DB_FILENAME}'s" if path is not None else "the database's"
        return WriteLocked(
            f"another process has held {where} write lock for over {BUSY_TIMEOUT_S:.0f} s "
            f"(an import, a `sqlite3` shell or a database browser with a transaction open?) "
            f"({exc})"
        )
    if path is None:
        return DiskFull(f"the disk is full ({exc}); free some space")
    folder = _folder(path)
    limit = _size_limit_reached(path)
    if (isinstance(exc, OSError) and exc.errno == errno.EFBIG) or (
        limit is not None and not isinstance(exc, OSError) and os.statvfs(folder).f_bavail
    ):
        size = f" of {limit // 1024:,} KiB" if limit is not None else ""
        return DiskFull(
            f"a file in {folder} reached this process's file-size limit{size} "
            f"(`ulimit -f`; {exc}); raise the limit and run it again"
        )
    if isinstance(exc, OSError) and exc.errno == errno.EDQUOT:
        return DiskFull(f"the disk quota for {folder} is used up ({exc}); free some space")
    return DiskFull(f"the disk holding {folder} is full ({exc}); free some space")


def io_error_message(path: Path, exc: BaseException) -> str:
    """SQLite's "disk I/O error" that is not known to be a full disk, in one line."""
    return (
        f"could not read or write {path} ({exc}): a disk quota used up, a failing or removed "
        "drive? What this command had not committed was rolled back; `assistant check` "
        "tests the database"
    )


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing.

    Only a directory this call creates gets the private mode: an existing one (a shared
    1777 /tmp-like folder given as --home) is the user's, and its mode is left alone.
    """
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise StoreError(f"data home {path} exists but is not a directory") from None
    except NotADirectoryError:
        raise StoreError(f"data home {path} cannot be created: a parent is a file") from None
    except PermissionError:
        raise StoreError(f"data home {path} cannot be created: permission denied") from None
    except OSError as exc:
        raise StoreError(f"data home {path} cannot be created: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"the home is not writable: {unwritable(path) or path}")
    return path


def unwritable(home: Path) -> str | None:
    """Why nothing can be written in `home` (None: it can), as a few words: a read-only
    file system or mount, a folder or database file without write permission. A home that
    does not exist yet is writable if it can be created (`ensure_private_dir` says if not).
    """
    home = Path(home)
    path = home / DB_FILENAME
    for target in (home, path):
        if not target.exists():
            continue
        if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
            try:
                read_only_fs = bool(os.statvfs(target).f_flag & os.ST_RDONLY)
            except OSError:
                read_only_fs = False
            if read_only_fs:
                return f"{home} is on a read-only file system"
            return f"{target} is read-only (no write permission)"
    return None


def unopenable(path: Path) -> str | None:
    """Why the database file at `path` cannot be opened at all (None: it can, or it is
    absent): a directory in its place, or no permission to read it."""
    if path.is_dir():
        return f"{path} is a directory, not a database file; move it aside"
    if path.exists() and not os.access(path, os.R_OK):
        return f"{path} cannot be read (no read permission); check its owner and mode"
    return None


def _create_private_file(path: Path) -> None:
    # SQLite creates new files 0644 minus umask and WAL/SHM copy that mode: create 0600 first.
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def connect(
    path: Path,
    *,
    read_only: bool = False,
    create: bool = True,
    expect: tuple[int, int] | None = None,
) -> sqlite_utils.Database:
    """A configured connection without running migrations (readers use this too).

    `read_only` (a home that cannot be written: `unwritable`): the file is opened with
    `mode=ro`, and where SQLite cannot set up its WAL index there (no `-shm` file and no
    right to create one) as `immutable`: nothing can change a file nobody may write. A
    non-empty `-wal` it cannot read is refused rather than read around (its commits
    would be missing). `create=False`: a missing file is an error, never a new empty one.
    `expect`: the `file_id` the file must have; another file at the path (copied onto it
    since) is refused before SQLite reads anything of it (see `_refuse_other_file`).
    """
    why = unopenable(path)
    if why:
        raise StoreError(why)
    if read_only:
        return _connect_read_only(path)
    try:
        if create:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        else:
            from urllib.parse import quote

            uri = f"file:{quote(str(path))}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} ({exc})") from None
    if expect is not None:
        _refuse_other_file(conn, path, expect)
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
        if cannot_write(exc, path):
            raise cannot_write_error(path, exc) from None
        raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
    return db


def _refuse_other_file(conn: sqlite3.Connection, path: Path, expect: tuple[int, int]) -> None:
    """Close `conn` and refuse when the file at `path` is not `expect` any more.

    SQLite opens the file on connect and reads nothing of it (nor of its -wal and -shm)
    before the first statement. A path that names `expect` after the open named it at the
    open too, so the connection holds that file. This closes the window a check before
    the connect leaves: a file copied onto the path in between, beside the old -wal and
    -shm, would make SQLite in this process reset the -shm that another connection of the
    same process has mapped (POSIX locks do not keep a process from itself): SIGBUS, or a
    connection that reads the wrong pages."""
    now = file_id(path)
    if now != expect:
        conn.close()
        what = "is gone (moved or deleted)" if now is None else "was replaced by another file"
        raise StoreError(f"{path} {what} since it was opened")


def _connect_read_only(path: Path) -> sqlite_utils.Database:
    from urllib.parse import quote

    wal = path.with_name(path.name + "-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    last: sqlite3.Error | None = None
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        if flags.endswith("immutable=1") and pending:
            break  # immutable would read the file without the commits still in its WAL
        conn = sqlite3.connect(
            f"file:{quote(str(path))}?{flags}",
            uri=True,
            timeout=BUSY_TIMEOUT_S,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            last = exc
            if type(exc) is sqlite3.DatabaseError:  # "file is not a database", "malformed"
                break
            continue
        return sqlite_utils.Database(conn, execute_plugins=False)
    if pending and type(last) is not sqlite3.DatabaseError:
        raise StoreError(
            f"{path} cannot be read in a home that is not writable: its last commits are still "
            f"in {wal.name}, which SQLite can only read with its -shm file ({last})"
        )
    raise StoreError(f"{path} is not a usable SQLite database ({last})")


class ReadOnlyHome(StoreError):
    """Something must be written and the home cannot be written (read-only file system,
    no write permission): not damage; commands that only read work."""


def open_db(
    home: Path,
    *,
    migrate: bool = True,
    check: bool = False,
    read_only: bool = False,
    create: bool = True,
    expect: tuple[int, int] | None = None,
) -> sqlite_utils.Database:
    """Open (creating if needed) the database in `home`, bring its schema up to date.

    `check`: run `PRAGMA quick_check` first and refuse (StoreError) a damaged file before
    anything is written into it: what CLI commands that write and the daemon's start do;
    the daemon's own later connections skip it. Pending migrations are writes: they are
    always preceded by the check. `create=False`: a missing file is refused, not created
    (a daemon thread opening mid-restore must not put an empty home in its place).
    `expect`: the `file_id` of the file a daemon thread must open, none other (`connect`).

    A home that cannot be written (`unwritable`) is opened read-only when `read_only` (a
    reader's open: nothing is created or migrated), else refused with `ReadOnlyHome`.
    """
    home = Path(home)
    path = home / DB_FILENAME
    if not create and not path.exists():
        raise StoreError(f"{path} is gone (moved or deleted)")
    why = unopenable(path)
    if why:
        raise StoreError(why)
    blocked = unwritable(home)
    if blocked:
        if not read_only:
            raise ReadOnlyHome(f"the home is not writable: {blocked}")
        if not path.exists():
            raise ReadOnlyHome(f"the home is not writable ({blocked}) and holds no database yet")
        db = connect(path, read_only=True)
        try:
            check_schema(db)
            if MIGRATIONS.pending(db):
                raise ReadOnlyHome(
                    f"the home is not writable ({blocked}) and its database needs a schema "
                    "upgrade this version makes on first write; open it once where it is writable"
                )
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
        except StoreError:
            db.close()
            raise
        return db
    ensure_private_dir(home)
    if create:
        try:
            _create_private_file(path)
        except PermissionError:
            raise StoreError(f"cannot create {path}: permission denied") from None
    try:  # (create=False: a file moved away since the check above is not made anew)
        db = connect(path, create=create, expect=expect)
    except StoreError:
        if not create and not path.exists():
            raise StoreError(f"{path} is gone (moved or deleted)") from None
        raise
    try:
        if check or (migrate and MIGRATIONS.pending(db)):
            require_intact(db, path)
        check_schema(db)
        if migrate and MIGRATIONS.pending(db):
            with immediate(db):  # two processes opening a new home migrate one after the other
                if MIGRATIONS.pending(db):
                    MIGRATIONS.apply(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if cannot_write(exc, path):
            raise cannot_write_error(path, exc) from None
        raise StoreError(f"{path} is not a usable SQLite database ({exc})") from None
    except StoreError:
        db.close()
        raise
    return db


RECOVERY = (
    "stop the daemon (`assistant stop`), move {db} and its -wal and -shm files aside, copy "
    "your newest backup (`assistant backup FILE` makes one) to {db}, then run "
    "`assistant check` (README: Backup and restore)"
)


def damage(db: sqlite_utils.Database | sqlite3.Connection, *, full: bool = False) -> list[str]:
    """What SQLite's integrity check finds wrong ([] for a sound file).

    `quick_check` reads every page once and checks the b-trees and records (about a second
    per GB); `full` adds `integrity_check`'s cross-check of every index against its table.
    """
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = db.execute(f"PRAGMA {pragma}(20)").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    # One row per problem, though a row may hold several lines under a "*** in database" title.
    lines = [line for r in rows for line in str(r[0]).splitlines()]
    problems = [line for line in lines if line.strip() and not line.startswith("*** ")]
    return [] if problems == ["ok"] else problems


def damaged_message(path: Path, problems: list[str], done: str = "") -> str:
    """One line: the file is damaged, what was done about it, how to recover."""
    first = problems[0] if problems else "unreadable"
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return (
        f"{path} is damaged ({first}{more}){done}. `assistant check` lists the damage; "
        "to recover, " + RECOVERY.format(db=path)
    )


def require_intact(db: sqlite_utils.Database, path: Path) -> None:
    """StoreError (with the recovery steps) if `PRAGMA quick_check` finds damage."""
    problems = damage(db)
    if problems:
        raise StoreError(damaged_message(path, problems, ": nothing was written to it"))


def backup(db: sqlite_utils.Database, target: Path, *, overwrite: bool = False) -> None:
    """Copy the database to `target` with SQLite's online backup, checked by quick_check.

    The copy is one consistent snapshot even while another process writes (the backup
    holds a read transaction; WAL lets writers go on). It is written to a private (0600)
    temporary file beside `target`, checked, fsynced and only then put in place, so a
    failed or interrupted backup never leaves a half-written `target`. An existing
    `target` is replaced only with `overwrite`; the database itself (or its -wal, -shm)
    never is. While it runs the temporary file is recorded in the home (`partials`), so
    what a killed backup leaves is removed by the next backup, `check` or daemon start.
    """
    from store import partials

    target = Path(target)
    source = file_of(db)
    if source is not None and _is_the_database(target, source):
        raise StoreError(
            f"{target} is the home's database itself; back up to a file outside the home "
            "(the restore steps are in the README: Backup and restore)"
        )
    if target.is_dir():
        raise StoreError(f"{target} is a directory; give a file name for the backup")
    if target.exists() and not overwrite:
        raise StoreError(f"{target} exists; --force replaces it")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with contextlib.ExitStack() as stack:
        if source is not None:
            stack.enter_context(partials.recorded(source.parent, tmp))
        _backup_to(db, tmp, target, overwrite)


def _is_the_database(target: Path, source: Path) -> bool:
    """Whether `target` is `source` or one of its side files, by name (links resolved) or
    by inode (a hard link)."""
    from store import partials

    names = [source.with_name(source.name + suffix) for suffix in partials.SIDE_FILES]
    resolved = target.resolve()
    for name in names:
        if resolved == name.resolve():
            return True
        with contextlib.suppress(OSError):
            if os.path.samefile(target, name):
                return True
    return False


def _backup_to(db: sqlite_utils.Database, tmp: Path, target: Path, overwrite: bool) -> None:
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        copy = sqlite3.connect(str(tmp))
        try:
            # A copy that fails is deleted whole: no journal to roll it back (none is left
            # beside the target either), and one fsync at the end instead of one per step.
            copy.execute("PRAGMA journal_mode = OFF")
            copy.execute("PRAGMA synchronous = OFF")
            # One step, one read transaction: a snapshot that another writer cannot restart.
            db.conn.backup(copy)
            problems = damage(copy)
        finally:
            copy.close()
        if problems:  # pages are copied as they are: the source is damaged
            source = file_of(db) or Path("the database")
            raise StoreError(damaged_message(source, problems, f": {target} was not written"))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            _place_new(tmp, target)
    except FileExistsError:
        raise StoreError(f"{target} exists; --force replaces it") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"backup to {target} failed: {exc}") from None
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _place_new(tmp: Path, target: Path) -> None:
    """Move `tmp` to `target` unless a file appeared there meanwhile (FileExistsError)."""
    try:
        os.link(tmp, target)  # atomic "create only if absent"
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links (a FAT-formatted USB disk)
        if target.exists():
            raise FileExistsError(target) from None
        os.replace(tmp, target)


def unknown_schema_steps(db: sqlite_utils.Database) -> list[str]:
    """Schema steps applied to the database that this version does not know (a newer
    version migrated it)."""
    applied = {m.name for m in MIGRATIONS.applied(db)}
    return sorted(applied - known_migration_names())


def check_schema(db: sqlite_utils.Database) -> None:
    """Refuse a database written by a newer version of the program."""
    unknown = unknown_schema_steps(db)
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


def date_range(start: str | date | None, end: str | date | None) -> tuple[str, list[str]]:
    """` AND date >= ? AND date <= ?` for the bounds given (both inclusive), with its parameters
    (a date bound goes to SQLite as its ISO text)."""
    sql, params = "", list[str]()
    if start:
        sql, params = sql + " AND date >= ?", [*params, day_text(start)]
    if end:
        sql, params = sql + " AND date <= ?", [*params, day_text(end)]
    return sql, params


def bound(row: Iterable[object]) -> tuple[object, ...]:
    """A row's values as SQLite takes them: a session (a `date`, not a datetime) as its ISO
    text, everything else as it is."""
    return tuple(
        v.isoformat() if isinstance(v, date) and not isinstance(v, datetime) else v for v in row
    )


def day_text(day: str | date) -> str:
    """A session bound as SQLite holds it: a date as its ISO text, a text as it is."""
    return session_text(day) if isinstance(day, date) else day


def ledger_filters(status: str | None, symbols: Sequence[str] | None) -> tuple[str, list[object]]:
    """` WHERE status = ? AND symbol IN (...)` for a ledger table (daily or hourly calls),
    with its parameters; empty when neither is given."""
    clauses, params = [], list[object]()
    if status:
        clauses.append("status = ?")
        params.append(status)
    if symbols:
        clauses.append(f"symbol IN ({','.join('?' * len(symbols))})")
        params.extend(symbols)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def file_id(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file at `path` (None when there is none): which file a path
    names now, to tell a replaced database from the one a process opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def file_of(db: sqlite_utils.Database) -> Path | None:
    """The database file behind a connection (None for an in-memory one)."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    return None
