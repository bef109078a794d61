"""The `assistant` CLI called in-process, for tests of its output and exit code.

`run_cli(home, *args)` is `assistant --home HOME ARGS...` run through `assistant.cli.main`
with stdout and stderr captured, returning what `subprocess.run(..., capture_output=True,
text=True)` would (`returncode`, `stdout`, `stderr`) without a process start and the
imports that come with it. As in a process:
- `SystemExit` (argparse's refusals, `--help`) gives its code, and its message on stderr;
- an uncaught exception gives its traceback on stderr and exit code 1, so a test that says
  "one error line, no traceback" still fails on one;
- environment variables in `env` are set (and those given as None removed) for the call only;
- what the call left to the garbage collector (an unclosed connection) is collected after it.

Keep real processes (tests.daemon_fixture) where the process is the point: signals, daemons,
locks, kill -9, a real terminal.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Ran:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def patched_env(env: Mapping[str, str | None] | None) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _exit_code(exc: SystemExit, err: io.StringIO) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)
    return 1


def run_cli(
    home: Path | str | None, *args: str, env: Mapping[str, str | None] | None = None
) -> Ran:
    """`assistant [--home HOME] ARGS...` in-process; see the module docstring."""
    from assistant.cli import main

    argv = [*(["--home", str(home)] if home is not None else []), *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    with patched_env(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = int(main(argv) or 0)
        except SystemExit as exc:
            code = _exit_code(exc, err)
        except Exception:
            traceback.print_exc(file=err)
            code = 1
        finally:
            sys.stdout.flush()
    # What a process's exit would release: connections a command left to the collector are
    # closed now (the last close checkpoints the WAL), not halfway through the next call.
    gc.collect()
    return Ran(argv, code, out.getvalue(), err.getvalue())


def cli(home: Path, *args: str, timeout: float | None = None) -> Ran:
    """`tests.daemon_fixture.cli` in-process: the same fast settings (FAST_ENV), no process.

    `timeout` is accepted for a drop-in swap and ignored (an in-process call cannot be cut off).
    """
    from tests.daemon_fixture import FAST_ENV

    return run_cli(home, *args, env={**FAST_ENV, "ASSISTANT_HOME": None})
