"""`python -m tui --home DIR`: open the dashboard on a data home."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def default_home() -> Path:
    # Same rule as the assistant CLI (--home, $ASSISTANT_HOME, the platform data dir),
    # repeated here because the TUI must not import the assistant package.
    env = os.environ.get("ASSISTANT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("trading-assistant", appauthor=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui", description="The trading-assistant dashboard.")
    parser.add_argument("--home", type=Path, help="data home (default: $ASSISTANT_HOME or the platform data dir)")
    parser.add_argument("--heartbeat-seconds", type=float, default=5.0,
                        help="the daemon's heartbeat interval; offline after 3 missed beats")
    args = parser.parse_args(argv)
    home = (args.home.expanduser() if args.home else default_home())
    from store.db import StoreError, open_db

    try:
        open_db(home).close()  # creates or migrates the schema; refuses a newer one
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from tui.app import make_app

    make_app(home, heartbeat_seconds=args.heartbeat_seconds).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
