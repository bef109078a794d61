"""Where the data home is when none is named, and how to name it in a command to paste."""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def default_home() -> Path:
    # Same rule as the assistant CLI (--home, $ASSISTANT_HOME, the platform data dir),
    # repeated here because the TUI must not import the assistant package.
    env = os.environ.get("ASSISTANT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("trading-assistant", appauthor=False))


def command(home: Path, *args: str) -> str:
    """`assistant ARGS` as a user would type it here: `--home` only when `home` is not the
    one the CLI would pick by itself."""
    same = Path(home).expanduser().resolve() == default_home().resolve()
    named = [] if same else ["--home", str(home)]
    return shlex.join(["assistant", *named, *args])
