"""The dashboard's pending predictions, soonest target first, with the sessions left.

"Sessions left" is the horizon minus the sessions stored for the symbol since the call
was made: bars are stored per exchange session, so holidays never count, but a session
whose bar has not been collected yet still counts as ahead (an honest simplification,
stated where it is shown)."""

from __future__ import annotations

import sqlite_utils

from store.views.calls import Call
from store.views.read import rows

PENDING_LIMIT = 100


class PendingCall(Call):
    id: int
    symbol: str
    as_of: str
    target_date: str
    base_price: float
    pred_price: float
    lower: float | None
    upper: float | None
    sessions_left: int


def pending(db: sqlite_utils.Database, today: str, limit: int = PENDING_LIMIT) -> list[PendingCall]:
    """Pending predictions, soonest target first, with sessions left to the target: the
    final sessions stored after the call up to `today` (a replay's home may hold later ones)."""
    return rows(
        db,
        PendingCall,
        "SELECT id, symbol, as_of, horizon, target_date, base_price, pred_change_pct, "
        "pred_price, direction, confidence, model_version, lower, upper, "
        "MAX(0, horizon - (SELECT COUNT(*) FROM bars b WHERE b.symbol = p.symbol "
        "AND b.date > p.as_of AND b.date <= ? AND b.provisional = 0)) AS sessions_left "
        "FROM predictions p WHERE status = 'pending' "
        "ORDER BY target_date, symbol, horizon, id LIMIT ?",
        [today, limit],
    )
