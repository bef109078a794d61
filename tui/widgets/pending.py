"""Pending predictions, soonest target first, with the sessions left until they are scored.

Sessions left are the call's horizon minus the sessions stored since it was made
(store.views.pending.pending): bars are stored per exchange session, so holidays never count.
"""

from __future__ import annotations

from store.views.pending import PendingCall
from tui.widgets import fmt
from tui.widgets.tables import RowsTable

COLUMNS = (
    ("Symbol", 8),
    ("As of", 10),
    ("H", 2),
    ("Call", 12),
    ("Target", 24),
    ("80% range", 11),
    ("Sessions left", 13),
    ("Conf", 4),
)
KEEP = ("Symbol", "Call", "80% range", "Target", "H", "Sessions left", "Conf", "As of")


class PendingTable(RowsTable[PendingCall]):
    COLUMNS = COLUMNS
    KEEP = KEEP

    def row(self, r: PendingCall) -> tuple[str, tuple[object, ...]]:
        return str(r["id"]), self.cells(r)

    @staticmethod
    def cells(r: PendingCall) -> tuple[object, ...]:
        left = r["sessions_left"]
        return (
            r["symbol"],
            r["as_of"],
            f"{r['horizon']}d",
            fmt.call(r),
            f"{fmt.num(r['pred_price'])} on {r['target_date']}",
            fmt.price_range(r["lower"], r["upper"]),
            "due" if left == 0 else f"{left:>2} " + "█" * min(left, 10),
            fmt.confidence(r),
        )


def title(rows: list[PendingCall], hidden: tuple[str, ...] = ()) -> str:
    """The panel's title: how many rows, the columns a narrow screen leaves out (each symbol's
    screen lists its calls in full), and, once, when every one of them is a no call (what is
    forecast then is the target and its 80% range)."""
    more = f"; {len(hidden)} more columns on a symbol's screen" if hidden else ""
    head = f"Pending predictions ({len(rows)} shown, soonest first{more})"
    if rows and all(r["direction"] == "flat" for r in rows):
        head += " · all no call: target and 80% range shown"
    return head
