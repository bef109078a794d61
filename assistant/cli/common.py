"""What every command needs: the home, the settings, a database connection, output helpers."""

from __future__ import annotations

import argparse
import errno
import io
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from assistant import config
from assistant.errors import AssistantError
from vocab.dates import iso_date

if TYPE_CHECKING:
    import sqlite_utils


def home_option(text: str) -> Path:
    """The argparse `type` of `--home`: an empty value (`--home "$DIR"` with DIR unset) would
    be the current directory, and a command that creates a home would leave one there."""
    if not text.strip():
        raise AssistantError(
            "--home is empty: give the data home's directory, or leave --home out for "
            "$ASSISTANT_HOME or the default"
        )
    return Path(text)


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


def terminal_width() -> int | None:
    """The terminal's width in columns when stdout is a terminal (None: a pipe or a file,
    where nothing is fitted: scripts read every column and whole lines)."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError, OSError):  # a replaced or closed stream
        return None
    return max(MIN_WIDTH, shutil.get_terminal_size().columns)


MIN_WIDTH = 40  # narrower terminals get 40-column output (and wrap it themselves)


def table(
    rows: Sequence[Sequence[object]],
    headers: list[str],
    *,
    drop: Sequence[str] = (),
    width: int | None = None,
) -> str:
    """An aligned text table drawn by rich: plain ASCII text (no colour, no markup: a cell's
    "[x]" is shown as is; a dashed line under the header), never wrapped or cut, so it
    pipes cleanly.

    On a terminal narrower than the table (`width`, None: `terminal_width()`), columns are
    left out until it fits, the `drop` ones first (in that order), then from the right,
    the first two always kept; a last line names them."""
    shown = _render(rows, headers, range(len(headers)))
    width = terminal_width() if width is None else width
    if width is None or _widest(shown) <= width:
        return shown
    order = [headers.index(h) for h in drop if h in headers]
    order += [i for i in range(len(headers) - 1, 1, -1) if i not in order]
    keep = list(range(len(headers)))
    left_out: list[int] = []
    for i in order:
        keep.remove(i)
        left_out.append(i)
        shown = _render(rows, headers, keep)
        if _widest(shown) <= width:
            break
    names = ", ".join(headers[i] for i in sorted(left_out))
    note = f"({len(left_out)} column(s) left out to fit {width} columns: {names}; a wider "
    note += "terminal, a pipe or --json shows them)"
    return shown + "\n" + "\n".join(wrap_line(note, width))


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _render(rows: Sequence[Sequence[object]], headers: list[str], keep: Iterable[int]) -> str:
    import io

    from rich.box import Box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cols = list(keep)
    t = Table(
        *(headers[i] for i in cols),
        box=Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True),
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    t.header_style = ""
    for r in rows:
        t.add_row(*(Text("" if r[i] is None else str(r[i])) for i in cols))
    out = io.StringIO()
    Console(file=out, width=100_000, color_system=None, force_terminal=False).print(t)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def wrap_line(line: str, width: int) -> list[str]:
    """`line` as lines of at most `width` columns (a word longer than that stays whole),
    the continuation lines indented 4 past the line's own indent."""
    if len(line) <= width:
        return [line]
    import textwrap

    lead = line[: len(line) - len(line.lstrip(" "))]
    return textwrap.wrap(
        line.strip(),
        width=width,
        initial_indent=lead,
        subsequent_indent=lead + "    ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [line]


class FittedStdout(io.TextIOBase):
    """stdout for a command run in a terminal: each line longer than the terminal is
    wrapped at word boundaries (`wrap_line`); tables fit themselves (`table`). A pipe or a
    file never gets this: what scripts read is unchanged."""

    def __init__(self, stream: TextIO, width: int) -> None:
        self._stream, self._width, self._pending = stream, width, ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._stream.write("\n".join(wrap_line(line, self._width)) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write("\n".join(wrap_line(self._pending, self._width)))
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


class OutputFailed(Exception):
    """Writing the command's own output (stdout) failed: a redirect onto a full disk, past
    `ulimit -f`, onto a device that refuses it. Nothing is wrong with the home."""

    def __init__(self, exc: OSError) -> None:
        self.exc = exc
        super().__init__(str(exc))

    def __str__(self) -> str:
        why = {
            errno.ENOSPC: "redirected to a full disk?",
            errno.EDQUOT: "redirected to a disk whose quota is used up?",
            errno.EFBIG: "it reached this process's file-size limit, `ulimit -f`",
        }.get(self.exc.errno or 0, "redirected to a file or device that refuses it?")
        return (
            f"could not write the output to stdout ({self.exc}; {why}): it is incomplete, "
            "and the command stopped at that point; nothing is wrong with the home"
        )


class GuardedStdout(io.TextIOBase):
    """stdout for a command run as the whole process: a write or flush that fails is
    OutputFailed, so `main` can say it was the output that could not be written, not the
    home (a full disk under `> out.csv` is not a full disk under the home). A closed pipe
    (`| head`) stays BrokenPipeError."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.failed: OutputFailed | None = None

    def _guard(self, exc: OSError) -> OutputFailed:
        self.failed = OutputFailed(exc)
        return self.failed

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._guard(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._guard(exc) from None

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    @property
    def buffer(self) -> BinaryIO:
        return self._stream.buffer


def guard_stdout() -> None:
    """Report a failed write of stdout as OutputFailed (GuardedStdout)."""
    if not isinstance(sys.stdout, GuardedStdout):
        sys.stdout = GuardedStdout(sys.stdout)


def tolerate_narrow_encodings() -> None:
    """Output to a terminal or file whose encoding is not UTF-8 (a Latin-1 locale, an ASCII
    PYTHONIOENCODING): a character it lacks ('…', 'σ', '≤') is written as '?' rather than
    ending the command in UnicodeEncodeError after its work was done."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if not encoding.startswith("utf") and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def fit_stdout() -> None:
    """Wrap stdout's long lines to the terminal's width (nothing when it is no terminal)."""
    width = terminal_width()
    if width is not None and not isinstance(sys.stdout, FittedStdout):
        sys.stdout = FittedStdout(sys.stdout, width)
