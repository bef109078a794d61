"""CLI commands that keep a home healthy for months: check (the doctor) and backup."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.cli.common import home_of, open_home, print_json

if TYPE_CHECKING:
    import sqlite_utils


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser(
        "check",
        help="check the home: settings, database integrity, daemon",
        description=(
            "Check the data home without changing it: the settings load, the database "
            "passes SQLite's integrity_check (every page, every index against its table), "
            "its schema is known (one an older version wrote: how many upgrade steps behind, "
            "which any other command applies), and whether a daemon runs. Exit 1, with the "
            "recovery steps, when something is wrong."
        ),
    )
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(func=cmd_check)
    b = sub.add_parser(
        "backup",
        help="copy the database to FILE (consistent while the daemon runs)",
        description=(
            "Copy the home's database to FILE with SQLite's online backup: a consistent "
            "snapshot even while the daemon writes, checked with quick_check before it is put "
            "in place. An existing FILE is kept unless --force. Restoring is in the README "
            "(Backup and restore)."
        ),
    )
    b.add_argument("file", type=Path, metavar="FILE")
    b.add_argument("--force", action="store_true", help="replace FILE if it exists")
    b.add_argument("--json", action="store_true", help="machine-readable output")
    b.set_defaults(func=cmd_backup)


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB" if path.exists() else "none"


def cmd_check(args: argparse.Namespace) -> int:
    from assistant import config
    from assistant.daemon import lock
    from assistant.errors import AssistantError
    from store.db import (
        DB_FILENAME,
        RECOVERY,
        StoreError,
        check_schema,
        connect,
        damage,
        unopenable,
        unwritable,
    )
    from store.schema import MIGRATIONS

    home = home_of(args)
    path = home / DB_FILENAME
    failed: list[str] = []
    _sweep_partials(home)
    # what --json prints: each part's status ("ok", "none", "failed") and what it found
    found: dict[str, dict[str, object]] = {}
    say = (lambda line: None) if args.json else print
    try:
        config.load(home)
        say(f"settings: ok ({home / 'config.toml'})")
        found["settings"] = {"status": "ok", "path": str(home / "config.toml")}
        warning = _warn_if_exposed(home)
        if warning:
            say(warning)
            found["settings"]["warning"] = warning
    except AssistantError as exc:
        say(f"settings: {exc}")
        failed.append("settings")
        found["settings"] = {"status": "failed", "error": str(exc)}
    blocked = unwritable(home) if home.is_dir() else None
    found["home"] = {"path": str(home), "writable": not blocked, "why_not": blocked or None}
    if blocked:  # not damage: readers work, writers refuse in one line
        say(
            f"home: not writable ({blocked}); commands that only read work, the daemon "
            "and commands that write refuse"
        )
    cannot = unopenable(path)
    if cannot:
        say(f"database: {cannot}")
        failed.append("database access")
        found["database"] = {"status": "failed", "path": str(path), "problems": [cannot]}
    elif not path.exists():
        say(f"database: none yet at {path}")
        found["database"] = {"status": "none", "path": str(path)}
    else:
        try:
            db = connect(path, read_only=bool(blocked))
        except StoreError as exc:
            say(f"database: {exc}")
            failed.append("database")
            found["database"] = {"status": "failed", "path": str(path), "problems": [str(exc)]}
        else:
            hours: dict[str, object] | None = None
            behind: list[str] = []
            newer: str | None = None  # a newer version's file: intact, not this program's
            try:
                problems = damage(db, full=True)
                if not problems:
                    try:
                        check_schema(db)
                    except StoreError as exc:
                        newer = str(exc)
                    else:
                        # an older version's file (a restored backup): `check` writes
                        # nothing, and what the missing steps add (hourly bars, ...) is not
                        # there to read yet
                        behind = [m.name for m in MIGRATIONS.pending(db)]
                        if not behind:
                            hours = _hourly_found(db)
            except StoreError as exc:
                problems = [str(exc)]
            finally:
                db.close()
            wal = path.with_name(path.name + "-wal")
            sizes = f"{_mb(path)}, WAL {_mb(wal)}"
            found["database"] = {
                "status": "failed" if problems else "ok",
                "path": str(path),
                "bytes": path.stat().st_size,
                "wal_bytes": wal.stat().st_size if wal.exists() else 0,
                "problems": problems,
            }
            if problems:
                say(f"database: DAMAGED {path} ({sizes}); integrity_check says:")
                for p in problems:
                    say(f"  {p}")
                failed.append("database")
            else:
                say(f"database: ok {path} ({sizes}; integrity_check passed)")
            if newer:  # not damage: restoring a backup over it would lose what it holds
                say(f"schema: {newer}")
                failed.append("schema")
                found["schema"] = {"status": "failed", "error": newer}
            if behind:
                found["database"]["schema_steps_pending"] = behind
                steps = behind[0] if len(behind) == 1 else f"{behind[0]} … {behind[-1]}"
                say(
                    f"schema: written by an older version, {len(behind)} upgrade step"
                    f"{'s' if len(behind) > 1 else ''} behind ({steps}); "
                    + (
                        "this copy cannot take them (the home is not writable)"
                        if blocked
                        else "any other command, or the daemon's start, applies them "
                        "(`check` changes nothing)"
                    )
                )
            if hours is not None:
                found["hourly"] = hours
                say(str(hours.pop("line")))
    holder = lock.holder(home) if home.is_dir() else None
    say("daemon: " + ("not running" if holder is None else f"running (pid {holder})"))
    found["daemon"] = {"running": holder is not None, "pid": holder}
    if args.json:
        print_json({"ok": not failed, "failed": failed, **found})
    if not failed:
        return 0
    how = (
        "to recover, " + RECOVERY.format(db=path)
        if "database" in failed
        else "nothing is damaged: fix what stands at the database's place as said above"
        if "database access" in failed
        else "nothing is damaged: run the newer version that wrote it (keep this file; a "
        "backup restored over it would lose what it holds)"
        if "schema" in failed
        else "fix config.toml or the ASSISTANT_* variables named above"
    )
    print(f"error: {' and '.join(failed)} failed the check; {how}", file=sys.stderr)
    return 1


def _hourly_found(db: sqlite_utils.Database) -> dict[str, object]:
    """The one-hour bars in a line, and the sessions flagged as not rolling up to their
    daily bar (a finding to look at, not a failure of the check)."""
    from assistant.ingest.hourly import ROLLUP_TOLERANCE
    from store import hourly

    rows = hourly.summary(db)
    flagged = {r.symbol: hourly.flagged_sessions(db, r.symbol) for r in rows if r.flagged_sessions}
    sources = sorted({s for r in rows for s in r.sources.split(",") if s})
    n = sum(r.bars for r in rows)
    line = (
        f"hourly bars: {n} of {len(rows)} symbols ({', '.join(sources)})"
        if rows
        else "hourly bars: none"
    )
    if flagged:
        shown = "; ".join(
            f"{sym} {', '.join(days[:3])}" + (" …" if len(days) > 3 else "")
            for sym, days in flagged.items()
        )
        line += (
            f"; {sum(len(d) for d in flagged.values())} sessions flagged: their hours do not "
            f"roll up to the daily bar within {ROLLUP_TOLERANCE:.1%} ({shown})"
        )
    unchecked = db.execute(
        "SELECT COUNT(*) FROM (SELECT DISTINCT symbol, session FROM hourly_bars h WHERE NOT "
        "EXISTS (SELECT 1 FROM bars b WHERE b.symbol = h.symbol AND b.date = h.session "
        "AND b.provisional = 0))"
    ).fetchone()[0]
    none_checked = bool(rows) and unchecked == sum(r.sessions for r in rows)
    if none_checked:  # "hours roll up" would be a claim nothing was checked for
        line += f"; none checked yet ({unchecked} sessions, none with a final daily bar)"
    elif rows and not flagged:
        line += f"; none flagged (hours roll up to their daily bars within {ROLLUP_TOLERANCE:.1%})"
    if unchecked and not none_checked:
        line += f"; {unchecked} sessions not checked yet (no final daily bar)"
    return {
        "line": line,
        "bars": n,
        "symbols": len(rows),
        "sources": sources,
        "flagged": flagged,
        "unchecked_sessions": int(unchecked),
    }


def _warn_if_exposed(home: Path) -> str | None:
    """A config.toml that holds a secret (an alert URL, a URL with a password or key) and
    that other users may read is worth a warning (not a failure): its line, else None."""
    from assistant import config

    path = home / "config.toml"
    if not path.exists():
        return None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and config.holds_secret(config.load(home, environ={})):
        return (
            f"settings: warning: {path} holds secrets (alert URLs, passwords) and is readable "
            f"by {'other users' if mode & 0o007 else 'its group'} (mode {mode:04o}); "
            f"`chmod 600 {path}`"
        )
    return None


class _Signalled(BaseException):
    """SIGTERM or SIGINT during a backup: unwinds it, so its partial copy is removed."""


def _raise_signalled(signum: int, frame: object) -> None:
    raise _Signalled(signum)


def _sweep_partials(home: Path) -> None:
    from store import partials

    removed = partials.sweep(home)
    if removed:
        print(partials.swept_message(removed), file=sys.stderr)


def cmd_backup(args: argparse.Namespace) -> int:
    from store.db import backup, file_of

    target = Path(args.file).expanduser()
    _, _, db = open_home(args, writes=False)  # the copy is checked: damage is refused there
    # Python's default SIGTERM ends the process without unwinding: the copy (as big as the
    # database) would stay beside the target. Both signals unwind the backup instead.
    previous = {s: signal.signal(s, _raise_signalled) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        _sweep_partials(home_of(args))
        backup(db, target, overwrite=args.force)
        if args.json:
            print_json(
                {
                    "source": str(file_of(db)),
                    "target": str(target),
                    "bytes": target.stat().st_size,
                    "quick_check": "ok",
                }
            )
        else:
            print(f"backed up {file_of(db)} to {target} ({_mb(target)}; quick_check passed)")
    except _Signalled as stop:
        signum = int(stop.args[0])
        print(
            f"backup interrupted by {signal.Signals(signum).name}: {target} was not written "
            "and the partial copy was removed",
            file=sys.stderr,
        )
        return 128 + signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        db.close()
    return 0
