"""One daemon per data home: an exclusive `fcntl.flock` on `<home>/daemon.lock`.

The kernel drops the lock when the holder dies, even on `kill -9`, so a stale lock
file never blocks the next start. The holder writes its pid into the file so a
second start (and `assistant status`) can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from assistant.errors import AssistantError

LOCK_FILENAME = "daemon.lock"


class AlreadyRunning(AssistantError):
    """Another process holds the home's daemon lock."""

    def __init__(self, home: Path, pid: int | None):
        self.pid = pid
        who = f"pid {pid}" if pid else "unknown pid"
        super().__init__(
            f"a daemon is already running for {home} ({who}); "
            "`assistant status` shows it, `assistant stop` ends it"
        )


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_FILENAME


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


class DaemonLock:
    """The held lock. `acquire()` raises AlreadyRunning; `release()` is idempotent."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.path = lock_path(home)
        self._fd: int | None = None

    def acquire(self, *, wait_s: float = 0.5) -> DaemonLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # A `status` probe holds a shared lock for microseconds: retry briefly
                # before concluding that another daemon owns the home.
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise AlreadyRunning(self.home, _read_pid(self.path)) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DaemonLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(home: Path) -> int | None:
    """The pid of the daemon holding the lock, 0 if held by an unknown pid, None if free."""
    path = lock_path(home)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(path) or 0
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
