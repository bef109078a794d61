"""`assistant`: the command line. Each group of commands lives in its own module.

Modules register their subcommands with `register(subparsers)`; each command function
takes the parsed arguments and returns the exit code. Known failures become one line
on stderr and a non-zero exit; nothing imports torch until a command needs it.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from assistant import __version__
from assistant.cli import alerts, cycle, daemon, data, modeling, ui, upkeep
from assistant.cli.common import home_of
from assistant.errors import AssistantError

GROUPS = (data, modeling, cycle, daemon, alerts, ui, upkeep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description=(
            "A terminal trading assistant: collects daily market data, trains forecasters, "
            "makes and verifies predictions, and reports only out-of-sample accuracy next "
            "to baselines."
        ),
        epilog="Data home: --home, else $ASSISTANT_HOME, else the platform's user data dir.",
    )
    parser.add_argument("--home", type=Path, help="data home directory (database, models, logs)")
    parser.add_argument("--version", action="version", version=f"trading-assistant {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from store.db import DB_FILENAME, StoreError, damaged_message, disk_full_error, is_disk_full

    try:
        return int(args.func(args) or 0)
    except (AssistantError, StoreError) as exc:  # each package's root: its refusals
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (sqlite3.OperationalError, OSError) as exc:
        home = home_of(args)
        if not is_disk_full(exc, home):
            raise
        print(f"error: {disk_full_error(home, exc)}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:
        # Damage quick_check at open did not see (it skips index-vs-table checks) surfaces
        # as a plain DatabaseError ("malformed"); its subclasses (locked, constraint) do not.
        # (OperationalError, a subclass, is handled above: a full disk is not damage.)
        if type(exc) is not sqlite3.DatabaseError:
            raise
        print(f"error: {damaged_message(home_of(args) / DB_FILENAME, [str(exc)])}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
