"""Pending predictions, soonest target first, with the sessions left until they are scored.

Sessions left are the call's horizon minus the sessions stored since it was made
(store.views.pending): bars are stored per exchange session, so holidays never count.
"""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual.widgets import DataTable

from tui.widgets import fmt
from tui.widgets.tables import sync_rows

COLUMNS = (("Symbol", 8), ("As of", 10), ("H", 2), ("Call", 12), ("Target", 24), ("Sessions left", 13),
           ("Conf", 4))


class PendingTable(DataTable):
    rows_data: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name, width in COLUMNS:
            # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
            self.add_column(name, key=name, width=width)

    def watch_rows_data(self, rows: list[dict[str, Any]]) -> None:
        if not self.columns:
            return
        sync_rows(self, [(str(r["id"]), self.cells(r)) for r in rows])

    @staticmethod
    def cells(r: dict[str, Any]) -> tuple:
        left = r["sessions_left"]
        return (
            r["symbol"], r["as_of"], f"{r['horizon']}d", fmt.call(r),
            f"{fmt.num(r['pred_price'])} on {r['target_date']}",
            "due" if left == 0 else f"{left:>2} " + "█" * min(left, 10),
            fmt.pct(r.get("confidence")),
        )
