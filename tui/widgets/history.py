"""One symbol's prediction history: each call, its target, and how it turned out."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.widgets import fmt
from tui.widgets.tables import RowsTable

COLUMNS = (
    ("As of", 10),
    ("H", 2),
    ("Call", 12),
    ("Conf", 4),
    ("Target", 10),
    ("Pred", 10),
    ("Actual", 10),
    ("Error", 7),
    ("Outcome", 7),
    ("Model", 14),
)
OUTCOME_STYLE = {"hit": "green", "miss": "red", "pending": "yellow", "expired": "dim"}


def outcome(p: dict[str, Any]) -> str:
    """hit / miss for a scored UP or DOWN call; "no call" for a scored FLAT one (it made no
    directional claim); else the status (pending, expired)."""
    if p["status"] == "verified":
        return "no call" if p["hit"] is None else ("hit" if p["hit"] else "miss")
    return p["status"]


class HistoryTable(RowsTable):
    COLUMNS = COLUMNS

    def row(self, p: dict[str, Any]) -> tuple[str, tuple]:
        return str(p["id"]), (
            p["as_of"],
            f"{p['horizon']}d",
            fmt.call(p),
            fmt.confidence(p),
            p["target_date"],
            fmt.num(p["pred_price"]),
            fmt.num(p.get("actual_price")),
            fmt.signed(p.get("error_pct")),
            Text(outcome(p), style=OUTCOME_STYLE.get(outcome(p), "")),
            p["model_version"],
        )
