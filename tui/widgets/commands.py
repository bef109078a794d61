"""The command queue as the user sees it: what was asked, and whether it is queued, running or done."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from tui.widgets.tables import sync_rows

COLUMNS = (("#", 4), ("Command", 22), ("Status", 7), ("Result", 30))
STATUS_STYLE = {"queued": "yellow", "running": "bold cyan", "done": "green", "failed": "bold red"}


def describe(kind: str, args: dict[str, Any]) -> str:
    target = args.get("symbol") or ", ".join(args.get("symbols") or []) or "all"
    return f"{kind} {target}"


class CommandsTable(DataTable):
    rows_data: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        for name, width in COLUMNS:
            # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
            self.add_column(name, key=name, width=width)

    def watch_rows_data(self, rows: list[dict[str, Any]]) -> None:
        if not self.columns:
            return
        sync_rows(self, [(str(r["id"]), (
            str(r["id"]), describe(r["kind"], r["args"] or {}),
            Text(r["status"], style=STATUS_STYLE.get(r["status"], "")),
            (r.get("error") or r.get("result") or "")[:60],
        )) for r in rows])
