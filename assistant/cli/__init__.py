"""`assistant`: the command line. Each group of commands lives in its own module.

Modules register their subcommands with `register(subparsers)`; each command function
takes the parsed arguments and returns the exit code. Known failures become one line
on stderr and a non-zero exit; nothing imports torch until a command needs it.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from assistant import __version__
from assistant.cli import alerts, completion, cycle, daemon, data, modeling, paper, ui, upkeep
from assistant.cli.common import (
    OutputFailed,
    fit_stdout,
    guard_stdout,
    home_of,
    home_option,
    tolerate_narrow_encodings,
)
from assistant.errors import AssistantError

GROUPS = (data, modeling, cycle, daemon, alerts, paper, ui, upkeep, completion)
HOME_HELP = "data home directory (database, models, logs)"
# The commands that may make a new data home (and say so). Every other command refuses a
# home that does not exist: a mistyped --home is an error, never an empty home answering
# "0 verified". `macro` collects too; `daemon` is what `start`, the demo and the systemd unit run.
CREATES_HOME = {("watch", "add"), ("import",), ("collect",), ("macro",), ("demo",), ("daemon",)}
# ...and the ones that need no home at all
# (the unit `service install` writes runs `daemon`, which makes the home)
NO_HOME = {("completion",), ("config",), ("service",)}


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
    parser.add_argument("--home", type=home_option, help=HOME_HELP)
    parser.add_argument("--version", action="version", version=f"trading-assistant {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(sub)
    _home_after_the_command(sub)
    return parser


def _home_after_the_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`--home` after the subcommand too (`assistant status --home X`), on every subcommand
    at every depth. SUPPRESS: one not given there leaves the one given before it."""
    for parser in set(sub.choices.values()):
        if "--home" not in parser._option_string_actions:  # `demo --home` is its own
            parser.add_argument(
                "--home", type=home_option, default=argparse.SUPPRESS, help=HOME_HELP
            )
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _home_after_the_command(action)


def _command(args: argparse.Namespace) -> tuple[str, ...]:
    sub = getattr(args, f"{args.command}_command", None)
    return (args.command,) if sub is None else (args.command, sub)


def _refuse_a_missing_home(args: argparse.Namespace) -> None:
    command = _command(args)
    if command[:1] in NO_HOME or command in CREATES_HOME:
        return
    home = home_of(args)
    if not home.is_dir():
        raise AssistantError(
            f"no data home at {home} (mistyped --home or $ASSISTANT_HOME?); `assistant watch "
            "add SYM`, `import FILE` or `collect` make one, `assistant demo` a demo home"
        )


def _say_created(args: argparse.Namespace, code: int) -> None:
    """A data home this command made, said once it succeeded. (One that failed keeps its
    one error line; the home stays: a partly failed import or collect holds what did land.)"""
    created = getattr(args, "created_home", None)
    if created is not None and code == 0:
        print(f"created the data home {created}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. Called without `argv` (the `assistant` script,
    `python -m assistant`) it is the whole process: after Ctrl-C it ends at once with 130,
    and a command that returns while a training thread still runs (a daemon stopped during
    a training it abandoned) ends at once with its own code. Threads still training
    (joblib's pool or the daemon's worker running torch) would otherwise make the
    interpreter's shutdown abort ("terminate called without an active exception", exit
    134). Nothing they hold needs finishing: artifacts are written under a temporary name
    and registered only once whole, and an open transaction rolls back as after a kill."""
    whole = argv is None
    failed = False
    if whole:
        tolerate_narrow_encodings()
        guard_stdout()
    try:
        try:
            code = _main(sys.argv[1:] if argv is None else argv, fit=whole)
        finally:
            if whole:  # what is still buffered, written while this can still say it failed
                _flush_stdout()
    except OutputFailed as exc:
        # stdout redirected onto a full disk, past `ulimit -f`: the output's failure, not the
        # home's (before: "the disk holding HOME is full", or exit 0 with the file empty)
        failed = True
        try:
            print(f"error: {exc}", file=sys.stderr)
        except OSError:
            pass
        code = 1
    if whole and (code == 130 or failed or _training_left()):
        import logging

        logging.shutdown()  # the daemon's log file, flushed and closed
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, OutputFailed):
                pass
        os._exit(code)
    return code


def _flush_stdout() -> None:
    """Write what stdout still buffers. A reader that has left (`| grep -q`, `| head` before
    the last write) is no failure: what is left goes to /dev/null, so the interpreter's own
    last flush does not meet the closed pipe ("Exception ignored ... BrokenPipeError", exit
    120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _training_left() -> bool:
    """Whether a training thread is still running (the daemon's stop abandons one that did
    not stop within its grace): the interpreter's shutdown would abort under it."""
    import threading

    return any(t.name == "training" and t.is_alive() for t in threading.enumerate())


def _main(argv: list[str], *, fit: bool = False) -> int:
    """`fit`: the whole process (the `assistant` script): in a terminal, stdout's long
    lines wrap to its width (common.fit_stdout); the dashboard draws the screen itself."""
    parser = build_parser()
    if not argv:  # bare `assistant`: what it can do, not an error line (exit 2: no command ran)
        parser.print_help()
        return 2
    try:
        args = parser.parse_args(argv)
    except AssistantError as exc:  # a date option's bad value (common.date_option)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    # after parsing: `--help` answers without sqlite_utils (and the pandas it imports)
    from store.db import (
        DB_FILENAME,
        StoreError,
        cannot_write,
        cannot_write_error,
        damaged_message,
        io_error_message,
        is_io_error,
    )

    if fit and not getattr(args, "full_screen", False):
        fit_stdout()
    try:
        _refuse_a_missing_home(args)
        code = int(args.func(args) or 0)
        _say_created(args, code)
        return code
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
        if cannot_write(exc, home):
            print(f"error: {cannot_write_error(home, exc)}", file=sys.stderr)
        elif is_io_error(exc):
            print(f"error: {io_error_message(home / DB_FILENAME, exc)}", file=sys.stderr)
        else:
            raise
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
