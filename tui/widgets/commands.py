"""The command queue as the user sees it: what was asked, and whether it is queued, running or done."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.widgets.tables import RowsTable

COLUMNS = (("#", 4), ("Command", 22), ("Status", 7), ("Result", 30))
STATUS_STYLE = {"queued": "yellow", "running": "bold cyan", "done": "green", "failed": "bold red"}


def describe(kind: str, args: dict[str, Any]) -> str:
    target = args.get("symbol") or ", ".join(args.get("symbols") or []) or "all"
    return f"{kind} {target}"


class CommandsTable(RowsTable):
    COLUMNS = COLUMNS
    CURSOR = "none"

    def row(self, r: dict[str, Any]) -> tuple[str, tuple]:
        return str(r["id"]), (
            str(r["id"]),
            describe(r["kind"], r["args"] or {}),
            Text(r["status"], style=STATUS_STYLE.get(r["status"], "")),
            (r.get("error") or r.get("result") or "")[:60],
        )
