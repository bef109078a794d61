"""Checkpoints of the ranges' adaptive conformal state, one per symbol set and horizon.

A checkpoint is the state after every verified outcome of the set's calls at the horizon
up to `last_session` (the state is opaque JSON text here: models.intervals.AdaptiveRanges
writes and checks it). A checkpoint that is here is true to the ledger: writing a verified
call deletes those that had fed its session (`void`, which verifying calls runs; the
schema's triggers for any other write, store.schema m014), and every such write counts
one change, so a checkpoint read before a change is not saved after it. (The one write not
seen: a hand edit of a verified call's actual price or status in place; README, Known
limits.) Only the KEEP
symbol sets saved most recently are kept. The caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlite_utils

from store.db import utcnow

KEEP = 4  # symbol sets whose checkpoints are kept (the watchlist, and a few ad-hoc subsets)


@dataclass(frozen=True)
class Checkpoint:
    symbols_key: str
    horizon: int
    last_session: str  # the newest target session whose outcomes were fed
    state: str  # JSON
    changes: int = 0  # `changes(db)` when the ledger behind it was read


def symbols_key(symbols: Iterable[str]) -> str:
    """The set's key: a digest of its sorted names (order and repeats do not matter)."""
    return hashlib.sha256("\n".join(sorted(set(symbols))).encode()).hexdigest()


def changes(db: sqlite_utils.Database) -> int:
    """How many writes of verified calls with a volatility forecast the ledger has seen."""
    row = db.execute("SELECT n FROM residual_changes WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def void(db: sqlite_utils.Database, firsts: Mapping[int, str]) -> None:
    """Verified calls were written, the earliest of horizon h at target session firsts[h]:
    delete the checkpoints that had fed that session or a later one, count one change."""
    db.execute("UPDATE residual_changes SET n = n + 1")
    db.conn.executemany(
        "DELETE FROM range_states WHERE horizon = ? AND last_session >= ?",
        [(int(h), str(first)) for h, first in firsts.items()],
    )


def any_saved(db: sqlite_utils.Database) -> bool:
    return db.execute("SELECT 1 FROM range_states LIMIT 1").fetchone() is not None


def load(db: sqlite_utils.Database, key: str) -> dict[int, Checkpoint]:
    """{horizon: checkpoint} saved for the symbol set `key`."""
    return {
        int(h): Checkpoint(key, int(h), str(last), str(state))
        for h, last, state in db.execute(
            "SELECT horizon, last_session, state FROM range_states WHERE symbols_key = ?", [key]
        )
    }


def save(db: sqlite_utils.Database, checkpoints: Sequence[Checkpoint]) -> bool:
    """Replace the checkpoints of the same (set, horizon), unless a verified call was
    written since they were read (False: nothing saved, the next cycle makes newer ones);
    drop the sets beyond the KEEP saved most recently."""
    if not checkpoints:
        return True
    now_at = changes(db)
    if any(c.changes != now_at for c in checkpoints):
        return False
    now = utcnow()
    # REPLACE gives the row a new id, above every other: ids order the sets by last save
    db.conn.executemany(
        "INSERT OR REPLACE INTO range_states (symbols_key, horizon, last_session, saved_at, "
        "state) VALUES (?, ?, ?, ?, ?)",
        [(c.symbols_key, c.horizon, c.last_session, now, c.state) for c in checkpoints],
    )
    db.execute(
        "DELETE FROM range_states WHERE symbols_key NOT IN (SELECT symbols_key FROM "
        "range_states GROUP BY symbols_key ORDER BY MAX(id) DESC LIMIT ?)",
        [KEEP],
    )
    return True
