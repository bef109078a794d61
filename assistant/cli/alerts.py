"""CLI commands: alerts test, alerts list.

`alerts test` sends one message now, from this process, to every configured URL (or
to --url), and says what happened. `alerts list` shows the outbox the daemon's sender
drains: what was sent, what waits for a retry, what failed and why.
"""

from __future__ import annotations

import argparse
import sys

from assistant.cli.common import open_home, print_json, table
from assistant.errors import AssistantError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "alerts",
        help="alerts through apprise: send a test message, list the outbox",
        description="Alerts go to the apprise URLs of [alerts] urls in config.toml; the "
        "daemon sends them. See the README's Alerts section.",
    )
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    t = asub.add_parser("test", help="send one test message now and say what happened")
    t.add_argument("--url", action="append", help="send to this apprise URL instead (repeatable)")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    t.set_defaults(func=cmd_test)
    ls = asub.add_parser("list", help="recent alerts: sent, waiting, failed (with the error)")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)


def cmd_test(args: argparse.Namespace) -> int:
    from assistant import config
    from assistant.alerts.send import SENT, UNCONFIRMED, describe, send

    home, settings, db = open_home(args)
    db.close()
    urls = tuple(args.url or settings.alerts.urls)
    if args.url:  # checked as the configured ones are
        config.check_alerts("--url", settings.replace("alerts", urls=urls).alerts)
    if not urls:
        raise AssistantError("no alert URLs: set [alerts] urls in config.toml (or pass --url)")
    outcome = send(
        urls,
        "trading-assistant: test alert",
        f"A test message from `assistant alerts test` (data home {home}).",
        settings.alerts.timeout_seconds,  # clamped by send: any value ends in time
    )
    if outcome.status == UNCONFIRMED:
        raise AssistantError(f"test alert unconfirmed: {outcome.error}")
    if outcome.status != SENT:
        raise AssistantError(f"test alert not delivered: {outcome.error}")
    if args.json:
        print_json({"sent": True, "urls": [describe(u) for u in urls]})
        return 0
    shown = ", ".join(describe(u) for u in urls)
    print(f"test alert sent to {len(urls)} URL(s): {shown}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from store import alerts as outbox

    _, _, db = open_home(args, writes=False)  # a reader: works in a read-only home
    try:
        rows = outbox.recent(db, max(1, args.limit))
    finally:
        db.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no alerts yet")
        return 0
    cols = ["id", "created_at", "event", "status", "tries", "title", "last_error"]
    cells = [
        [r["id"], r["created_at"], r["event"], r["status"], r["tries"], r["title"], r["last_error"]]
        for r in rows
    ]
    sys.stdout.write(table(cells, cols) + "\n")
    return 0
