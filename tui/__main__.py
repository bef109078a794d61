"""`python -m tui --home DIR`: open the dashboard on a data home."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tui.home import default_home

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from tui.app import TradingApp


def without_dataframes() -> None:
    """The dashboard only runs SQL. sqlite-utils imports pandas and numpy whenever they are
    installed (about half a second at start-up); marking them unavailable in this process,
    before the store is imported, keeps the TUI's start fast. Nothing in tui/ uses them
    (an import-linter contract says so)."""
    for name in ("pandas", "numpy"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tui", description="The trading-assistant dashboard."
    )
    parser.add_argument(
        "--home", type=Path, help="data home (default: $ASSISTANT_HOME or the platform data dir)"
    )
    parser.add_argument(
        "--heartbeat-seconds",
        type=float,
        default=5.0,
        help="the daemon's heartbeat interval; offline after 3 missed beats",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="opened by `assistant demo`: quitting also stops the demo daemon (the help says so)",
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="FILE.svg",
        help="render the dashboard headless once the data has loaded, save it as SVG, exit",
    )
    parser.add_argument(
        "--size",
        default="120x40",
        metavar="WxH",
        help="with --screenshot: the terminal's columns x rows (default 120x40)",
    )
    parser.add_argument(
        "--symbol",
        metavar="SYM",
        help="with --screenshot: render this symbol's screen instead of the dashboard",
    )
    parser.add_argument(
        "--first-paint",
        action="store_true",
        help="run headless, print the wall time (epoch seconds) of the first full paint "
        "of the dashboard with its data, exit (the start-up benchmark)",
    )
    args = parser.parse_args(argv)
    try:
        cols, rows = (int(n) for n in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size {args.size!r} is not WxH (e.g. 120x40)")
    home = args.home.expanduser() if args.home else default_home()
    if not os.environ.get("TUI_KEEP_DATAFRAMES"):  # set: the 'before' start-up figure
        without_dataframes()
    from store.db import StoreError, open_db

    try:
        open_db(home).close()  # creates or migrates the schema; refuses a newer one
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from tui.app import make_app

    app = make_app(home, heartbeat_seconds=args.heartbeat_seconds, demo=args.demo)
    if args.screenshot:
        import asyncio

        asyncio.run(_screenshot(app, args.screenshot, size=(cols, rows), symbol=args.symbol))
        print(f"saved {args.screenshot}")
        return 0
    if args.first_paint:
        painted: list[float] = []

        async def first_paint(pilot: Pilot[object]) -> None:
            import asyncio
            import time

            while app.loads < 1:  # the first snapshot read and applied
                await asyncio.sleep(0.002)
            await pilot.pause()  # ... and painted
            painted.append(time.time())
            app.exit()

        app.run(headless=True, size=(160, 46), auto_pilot=first_paint)
        print(f"first-paint {painted[0]:.6f}")
        return 0
    app.run()
    return 0


async def _screenshot(
    app: TradingApp, path: Path, size: tuple[int, int] = (120, 40), symbol: str | None = None
) -> None:
    """The README's pictures: the real app, headless, after its first reads have landed."""
    async with app.run_test(size=size) as pilot:
        for _ in range(3):  # first read, then the widgets that render from it
            await app.workers.wait_for_complete()
            await pilot.pause(0.5)
        if symbol:
            app.open_symbol(symbol)
            for _ in range(3):  # the symbol's detail read, then its chart and tables
                await app.workers.wait_for_complete()
                await pilot.pause(0.5)
        app.save_screenshot(filename=path.name, path=str(path.parent.resolve()))


if __name__ == "__main__":
    sys.exit(main())
