"""One symbol's prediction history: each call, its target, and how it turned out."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from tui.widgets import fmt
from tui.widgets.tables import sync_rows

COLUMNS = (("As of", 10), ("H", 2), ("Call", 12), ("Conf", 4), ("Target", 10), ("Pred", 10),
           ("Actual", 10), ("Error", 7), ("Outcome", 7), ("Model", 14))
OUTCOME_STYLE = {"hit": "green", "miss": "red", "pending": "yellow", "expired": "dim"}


def outcome(p: dict[str, Any]) -> str:
    if p["status"] == "verified" and p["hit"] is not None:
        return "hit" if p["hit"] else "miss"
    return p["status"]


class HistoryTable(DataTable):
    rows_data: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name, width in COLUMNS:
            # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
            self.add_column(name, key=name, width=width)

    def watch_rows_data(self, rows: list[dict[str, Any]]) -> None:
        if not self.columns:
            return
        sync_rows(self, [(str(p["id"]), (
            p["as_of"], f"{p['horizon']}d", fmt.call(p), fmt.pct(p.get("confidence")), p["target_date"],
            fmt.num(p["pred_price"]), fmt.num(p.get("actual_price")),
            fmt.signed(p.get("error_pct")), Text(outcome(p), style=OUTCOME_STYLE.get(outcome(p), "")),
            p["model_version"],
        )) for p in rows])
