"""What every command needs: the home, the settings, a database connection, output helpers."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from assistant import config
from assistant.errors import AssistantError
from vocab.dates import iso_date

if TYPE_CHECKING:
    import sqlite_utils


def date_option(option: str) -> Callable[[str], date]:
    """The argparse `type` of every date option: ISO 'YYYY-MM-DD' only (vocab.dates.iso_date),
    returned as a date. Anything else is one error line naming the option; an
    AssistantError (not a ValueError) passes through argparse to `assistant.cli.main`."""

    def parse(text: str) -> date:
        try:
            return iso_date(text)
        except ValueError:
            raise AssistantError(f"{option} {text!r} is not a date (expected YYYY-MM-DD)") from None

    return parse


def home_of(args: argparse.Namespace) -> Path:
    return Path(args.home).expanduser() if getattr(args, "home", None) else config.default_home()


def ensure_home(home: Path) -> None:
    """Make the data home (private) if it is not there; one error line if it cannot be."""
    from store.db import StoreError, ensure_private_dir

    try:
        ensure_private_dir(home)
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise AssistantError(f"cannot use data home {home}: {exc.strerror or exc}") from None
    except StoreError as exc:
        raise AssistantError(str(exc)) from None


def open_home(
    args: argparse.Namespace, *, writes: bool = True
) -> tuple[Path, config.Settings, sqlite_utils.Database]:
    """Resolve the home, load settings, open (and migrate) the database.

    A command that `writes` first has the database pass `PRAGMA quick_check` (0.77 s on a
    112 MB home of 100 symbols x 10 years and 75k calls, on a loaded 2-core machine):
    nothing is ever written into a damaged file. Readers skip it; damage they run into is
    one error line (`assistant.cli.main`).
    """
    from store.db import open_db, unwritable

    home = home_of(args)
    new = not home.exists()  # only the commands that create one get here without a home
    # A home that exists but cannot be written (a read-only mount, a backup copy) is not
    # damaged: a reader opens it read-only, a writer is refused in one line (open_db).
    if not (home.is_dir() and unwritable(home)):
        ensure_home(home)
    if new:  # `assistant.cli.main` says so once the command succeeded
        args.created_home = home
    settings = config.load(home)
    db = open_db(home, check=writes, read_only=not writes)
    if writes:  # only into a file that passed the check
        _record_sessions(db, settings)
    return home, settings, db


def _record_sessions(db: sqlite_utils.Database, settings: config.Settings) -> None:
    """Keep the session calendar the dashboard counts stale data with up to date (only
    when something is missing: the calendars load only then)."""
    from store import freshness

    try:
        if freshness.calendar_needed(db, date.today()):
            from assistant.calendar import record_sessions

            record_sessions(db, settings.calendar.exchange)
    except sqlite3.Error:  # busy or read-only: the dashboard counts weekdays meanwhile
        pass


def known_symbols(db: sqlite_utils.Database, raw: list[str] | None) -> list[str] | None:
    """The given symbols, normalized; one error for any the home has never held.

    A filter by a symbol with no history would answer "0 verified" or an empty table as
    if the name were right; a typo is an error instead. None (no symbols given) stays None.
    """
    from store import symbols

    if not raw:
        return None
    clean = list(dict.fromkeys(symbols.validate_symbol(s) for s in raw))
    missing = symbols.unknown(db, clean)
    if missing:
        raise AssistantError(
            f"unknown symbol{'s' if len(missing) > 1 else ''} {', '.join(missing)}: never "
            "watched or imported in this home (`assistant watch list --all` lists the known ones)"
        )
    return clean


def print_json(value: object) -> None:
    """A JSON-able value (what is not, such as a date, prints as its text)."""
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(rows: Sequence[Sequence[object]], headers: list[str]) -> str:
    """An aligned text table drawn by rich: plain ASCII text (no colour, no markup: a cell's
    "[x]" is shown as is; a dashed line under the header), never wrapped or cut, so it
    pipes cleanly."""
    import io

    from rich.box import Box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    t = Table(
        *headers,
        box=Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True),
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    t.header_style = ""
    for r in rows:
        t.add_row(*(Text("" if v is None else str(v)) for v in r))
    out = io.StringIO()
    Console(file=out, width=100_000, color_system=None, force_terminal=False).print(t)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
