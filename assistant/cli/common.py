"""What every command needs: the home, the settings, a database connection, output helpers."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils

from assistant import config
from assistant.errors import AssistantError
from store.db import StoreError, ensure_private_dir, open_db


def home_of(args: argparse.Namespace) -> Path:
    return Path(args.home).expanduser() if getattr(args, "home", None) else config.default_home()


def open_home(
    args: argparse.Namespace,
) -> tuple[Path, config.Settings, sqlite_utils.Database]:
    """Resolve the home, load settings, open (and migrate) the database."""
    home = home_of(args)
    try:
        ensure_private_dir(home)
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise AssistantError(f"cannot use data home {home}: {exc.strerror or exc}") from None
    except StoreError as exc:
        raise AssistantError(str(exc)) from None
    settings = config.load(home)
    db = open_db(home)
    _record_sessions(db, settings)
    return home, settings, db


def _record_sessions(db: sqlite_utils.Database, settings: config.Settings) -> None:
    """Keep the session calendar the dashboard counts stale data with up to date (only
    when something is missing: the calendars load only then)."""
    from store import freshness

    try:
        if freshness.calendar_needed(db, date.today().isoformat()):
            from assistant.calendar import record_sessions

            record_sessions(db, settings.calendar.exchange)
    except sqlite3.Error:  # busy or read-only: the dashboard counts weekdays meanwhile
        pass


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """A plain aligned text table (no dependency, pipes cleanly)."""
    text = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
