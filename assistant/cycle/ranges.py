"""The range of every call: 80% and 95% bounds on the target close that are right as often
as they say, and that widen within days of a storm and relax after it.

The width comes from the volatility forecast made at the call (models.volatility: a
range-based HAR fitted on the symbol's own past), its sigma widened at 3 and 5 sessions
while the forecast is rising (`VolForecast.range_sigma`, the ledger's vol_sigma; issue 33);
the multiplier is adaptive conformal
(models.intervals.AdaptiveRanges): the verified calls known by the call's date, replayed
session by session in the order their outcomes became known, set a conformal quantile of
|realized - predicted| / sigma whose level moves after each session's misses and hits. A symbol with fewer than MIN_OWN verified
calls borrows the pooled state of every symbol at that horizon; with fewer than MIN_OWN of
those the Gaussian multiplier serves. The backtest reaches the same multipliers through
`intervals.adaptive_q` (the same state, fed in the same order).

The state is checkpointed (store.range_states) per symbol set and horizon: a cycle loads
the set's checkpoint and feeds only the sessions after it, so its cost follows the outcomes
verified since, not the whole ledger, and it reaches the state a full replay would. A
checkpoint stops before the first session that may still get outcomes (the set's earliest
pending call), so a late bar does not void it; the cycle's write saves it, unless a
verified call was written since its read. The store deletes a checkpoint whenever a call
it fed, or would have fed, is written (verified late, added, deleted, edited). A full
replay serves when there is no checkpoint, an unreadable one (logged), another symbol set
(another key), a date before the checkpoint's last session, or a call of the set pending
on or before it (added late, or set back to pending to be verified again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlite_utils

from models import intervals
from store import predictions as ledger
from store import range_states
from store.range_states import Checkpoint
from store.views.read import snapshot
from vocab.dates import session_date

LEVELS = intervals.LEVELS  # (0.80, 0.95)
MIN_OWN = intervals.MIN_OWN  # verified calls of one symbol and horizon before its own set the width

log = logging.getLogger(__name__)

Row = tuple[str, int, str, float, float, float, float]


@dataclass(frozen=True)
class Ranges:
    """The multipliers of a cycle, and the checkpoints its write saves (may be none)."""

    q: dict[tuple[str, int], tuple[float, float]]
    checkpoints: list[Checkpoint]


def multipliers(
    db: sqlite_utils.Database, symbols: list[str], horizons: list[int], known_by: date | None
) -> dict[tuple[str, int], tuple[float, float]]:
    """{(symbol, horizon): (q80, q95)} multipliers of sigma, from outcomes known by `known_by`."""
    return read(db, symbols, horizons, known_by).q


def read(
    db: sqlite_utils.Database, symbols: list[str], horizons: list[int], known_by: date | None
) -> Ranges:
    """The multipliers from outcomes known by `known_by`, resumed from the set's checkpoint
    where it holds, and the newer checkpoints to save."""
    if not symbols:
        return Ranges({}, [])
    key = range_states.symbols_key(symbols)
    q: dict[tuple[str, int], tuple[float, float]] = {}
    fresh: list[Checkpoint] = []
    unreadable: list[str] = []
    # one read transaction: the checkpoints, the rows fed after them and the change count agree
    with contextlib.nullcontext(db) if db.conn.in_transaction else snapshot(db):
        changes = range_states.changes(db)
        saved = range_states.load(db, key)
        pending = ledger.first_pending(db, symbols)
        for h in horizons:
            state, after, floor = _resume(h, known_by, saved.get(h), pending.get(h), unreadable)
            rows = ledger.residuals(db, symbols, known_by, horizon=h, after=after)
            last, done = _feed(state, rows, after, pending.get(h))
            if last is not None and done and (floor is None or last > floor):
                fresh.append(Checkpoint(key, h, last, done, changes))
            for sym in symbols:
                q80, q95 = state.multipliers(sym)
                q[(sym, h)] = (q80, q95)
    if unreadable:
        log.warning(
            "range checkpoint unreadable (%s): replayed every verified outcome",
            "; ".join(unreadable),
        )
    return Ranges(q, fresh)


def _resume(
    h: int,
    known_by: date | None,
    saved: Checkpoint | None,
    pending: str | None,
    unreadable: list[str],
) -> tuple[intervals.AdaptiveRanges, str | None, str | None]:
    """(state, the last session in it, the session a new checkpoint must pass to replace the
    saved one): the checkpoint's state where it serves this read, else an empty state (a
    full replay)."""
    empty = intervals.AdaptiveRanges()
    if saved is None:
        return empty, None, None
    if known_by is not None and known_by < session_date(saved.last_session):
        # an earlier date (an as-of cycle, a backfill): replay, keep the newer checkpoint
        return empty, None, saved.last_session
    if pending is not None and pending <= saved.last_session:
        # a call of a session it fed is pending: added since, or set back to be verified
        # again (a replay leaves it out, as the state may not): replay
        return empty, None, None
    try:
        state = intervals.AdaptiveRanges.from_dict(json.loads(saved.state))
    except ValueError as exc:  # json's errors are ValueErrors too
        unreadable.append(f"horizon {h}: {exc}")
        return empty, None, None
    return state, saved.last_session, saved.last_session


def _feed(
    state: intervals.AdaptiveRanges, rows: list[Row], after: str | None, pending: str | None
) -> tuple[str | None, str]:
    """Feed `rows` (one horizon, oldest outcome first) session by session; the last session
    fed before `pending` (the first that may still get outcomes) and the state then, as JSON
    ("" when that is still `after`: nothing new to save)."""
    sessions: dict[str, list[tuple[object, float]]] = {}
    for r, z in zip(rows, _scores(rows), strict=True):
        sessions.setdefault(r[2], []).append((r[0], z))  # dicts keep the ledger's order
    last, done = after, ""
    for day, outcomes in sessions.items():
        if pending is not None and day >= pending and not done and last != after:
            done = _dump(state)
        state.update(outcomes)
        if pending is None or day < pending:
            last = day
    if not done and last != after:
        done = _dump(state)
    return last, done


def _dump(state: intervals.AdaptiveRanges) -> str:
    return json.dumps(state.to_dict(), allow_nan=False, separators=(",", ":"))


def _scores(rows: list[tuple[str, int, str, float, float, float, float]]) -> list[float]:
    if not rows:
        return []
    base, pred, actual, sigma = (np.array([r[k] for r in rows]) for k in range(3, 7))
    z = intervals.standardized_residual(np.log(actual / base), np.log(pred / base), sigma)
    return [float(v) for v in z]


def bounds(base: float, mu: float, sigma: float, q: float) -> tuple[float, float]:
    """Prices base * exp(mu -+ q sigma)."""
    return base * math.exp(mu - q * sigma), base * math.exp(mu + q * sigma)
