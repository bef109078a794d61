"""Daemon logging: stderr and a rotating file `<home>/logs/daemon.log`.

Only the process holding the home's daemon lock writes that file (rotation from two
processes would corrupt it), so it is set up after the lock is taken.
"""

from __future__ import annotations

import errno
import logging
import logging.handlers
import sys
from pathlib import Path

from store.db import ensure_private_dir

FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(message)s"
LOG_NAME = "daemon.log"


class _FileHandler(logging.handlers.RotatingFileHandler):
    """The log file; a full disk drops its lines quietly (stderr still has them)."""

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return  # a traceback per line would bury the one line that says the disk is full
        super().handleError(record)


def log_dir(home: Path) -> Path:
    return Path(home) / "logs"


def setup_logging(
    home: Path, *, to_file: bool = True, to_stderr: bool = True, level: int = logging.INFO
) -> None:
    root = logging.getLogger("assistant")
    for handler in list(root.handlers):  # a second daemon in the same process (tests) starts clean
        if getattr(handler, "_assistant_daemon", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = []
    if to_file:
        directory = ensure_private_dir(log_dir(home))
        handlers.append(
            _FileHandler(directory / LOG_NAME, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        )
    if to_stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._assistant_daemon = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
