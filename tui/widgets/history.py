"""One symbol's prediction history: each call, its target, and how it turned out."""

from __future__ import annotations

from rich.text import Text

from store.views.symbol import HistoryCall
from tui.widgets import fmt
from tui.widgets.tables import RowsTable

COLUMNS = (
    ("As of", 10),
    ("H", 2),
    ("Call", 12),
    ("Conf", 4),
    ("Target", 10),
    ("Pred", 10),
    ("80% range", 11),
    ("Actual", 10),
    ("Error", 7),
    ("Outcome", 7),
    ("In 80%", 7),
    ("Model", 14),
)
KEEP = (
    "As of",
    "Call",
    "Target",
    "Pred",
    "80% range",
    "Actual",
    "Outcome",
    "Error",
    "In 80%",
    "Conf",
    "Model",
    "H",
)
OUTCOME_STYLE = {"hit": "green", "miss": "red", "pending": "yellow", "expired": "dim"}


def outcome(p: HistoryCall) -> str:
    """hit / miss for a scored UP or DOWN call; "no call" for a scored FLAT one (it made no
    directional claim); else the status (pending, expired)."""
    if p["status"] == "verified":
        return "no call" if p["hit"] is None else ("hit" if p["hit"] else "miss")
    return p["status"]


def inside(p: HistoryCall) -> Text:
    """inside / outside: whether the close landed in the call's 80% range, once verified."""
    covered = p["covered80"]
    if covered is None:
        return Text("—", style="dim")
    return Text("inside", style="green") if covered else Text("outside", style="red")


class HistoryTable(RowsTable[HistoryCall]):
    COLUMNS = COLUMNS
    KEEP = KEEP
    FOLLOW_TOP = True  # newest first: the newest rows stay in view as they come

    def row(self, p: HistoryCall) -> tuple[str, tuple[object, ...]]:
        return str(p["id"]), (
            p["as_of"],
            f"{p['horizon']}d",
            fmt.call(p),
            fmt.confidence(p),
            p["target_date"],
            fmt.num(p["pred_price"]),
            fmt.price_range(p["lower"], p["upper"]),
            fmt.num(p["actual_price"]),
            fmt.signed(p["error_pct"]),
            Text(outcome(p), style=OUTCOME_STYLE.get(outcome(p), "")),
            inside(p),
            p["model_version"],
        )
