"""Bars written over stored ones, and what is stated in their prices moved with them.

A split or dividend re-adjusts a symbol's whole stored history (collect notices it and
re-fetches; a re-imported export carries it): a pending call made from the old close, and
a paper book's shares bought at the old price, are in the old scale. Each is restated at
the new one by how much its session's close moved — the call keeps its percent change and
probabilities, the book its money — or a 4-for-1 split is scored as a 75% fall and booked
as a 75% loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlite_utils

from store import bars, paper, predictions


@dataclass(frozen=True)
class Restated:
    written: bars.UpsertResult
    calls: int  # pending calls re-scaled
    books: int  # paper books whose holding was re-scaled

    def note(self, symbol: str) -> str:
        """'; 1 pending call re-scaled with it' ... ('' when nothing moved)."""
        out = ""
        if self.calls:
            out += f"; {self.calls} pending call{'s' if self.calls != 1 else ''} re-scaled with it"
        if self.books:
            out += f"; the paper books' {symbol} shares re-scaled with it"
        return out


def upsert(db: sqlite_utils.Database, symbol: str, frame: pd.DataFrame, source: str) -> Restated:
    """`bars.upsert`, inside the caller's transaction, with the pending calls and paper
    holdings of `symbol` restated where their session's stored close changed."""
    days = predictions.pending_as_of(db, symbol) | paper.holding_sessions(db, symbol)
    old = bars.final_closes_on(db, symbol, days) if days else {}
    written = bars.upsert(db, symbol, frame, source)
    ratios = bars.adjustment_ratios(db, symbol, old) if old else {}
    if not ratios:
        return Restated(written, 0, 0)
    calls = predictions.rescale_pending(db, symbol, ratios)
    return Restated(written, calls, paper.rescale_holdings(db, symbol, ratios))
