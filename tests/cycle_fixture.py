"""Helpers for the cycle tests: a real SQLite home with synthetic history, hand-made calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from assistant import config
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars, symbols
from store import predictions as ledger
from store.db import immediate, open_db


def make_home(home: Path, syms: dict[str, pd.DataFrame]):
    """Open a home, watch `syms` and store their bars. Returns (db, settings)."""
    db = open_db(home)
    symbols.add(db, list(syms), "synthetic")
    with immediate(db):
        for sym, frame in syms.items():
            bars.upsert(db, sym, frame, "synthetic")
    return db, config.load(home)


def synthetic_home(home: Path, names=("AAA", "BBB"), n: int = 400, start: str = "2023-01-02"):
    return make_home(home, {s: synthetic_bars(n, seed=i, start=start) for i, s in enumerate(names)})


def price_path(
    closes: list[float] | np.ndarray, start: str = "2024-01-02", dates=None
) -> pd.DataFrame:
    """Bars with exactly these closes (one per business day unless `dates` given)."""
    closes = np.asarray(closes, dtype=float)
    idx = pd.DatetimeIndex(
        dates if dates is not None else pd.bdate_range(start, periods=len(closes)), name="date"
    )
    return pd.DataFrame(
        {
            "open": closes,
            "high": closes * 1.001,
            "low": closes * 0.999,
            "close": closes,
            "volume": 1e6,
            "raw_close": closes,
            "adj_factor": 1.0,
            "provisional": 0,
            "flagged": 0,
        },
        index=idx,
    )


def add_call(
    db,
    symbol: str,
    as_of: str,
    target: str,
    *,
    base: float,
    direction: str = "up",
    horizon: int = 1,
    votes: dict | None = None,
    band: float = 0.0,
    regime: str = "bullish",
    confidence: float = 0.45,
    version: str = "signals-v1",
    probs=(0.3, 0.2, 0.5),
    vol_sigma: float | None = None,  # None: the call does not feed the conformal ranges
) -> None:
    info = {
        "votes": votes or {},
        "flat_band": band,
        "raw_confidence": confidence,
        "last_move": "up",
        "contributions": {},
    }
    row = (
        symbol,
        as_of,
        horizon,
        version,
        "2024-01-01T00:00:00+00:00",
        target,
        base,
        0.5,
        base * 1.005,
        base * 0.98,
        base * 1.02,
        base * 0.96,
        base * 1.04,
        vol_sigma,
        probs[2],
        probs[1],
        probs[0],
        direction,
        confidence,
        regime,
        json.dumps(info),
    )
    with immediate(db):
        ledger.insert_many(db, [row])


def final_closes_many(db, symbols: list[str], start: str | None = None) -> dict[str, pd.Series]:
    """The report's close read before `store.bars.close_rows` (kept as the reference).
    Each symbol's final (non-provisional) closes, every stored session (from `start` on,
    when given), as float Series named `close` on a DatetimeIndex named `date` (an empty
    one for a symbol with none): what `load(...)` filtered to provisional == 0 gives, in
    one query of two columns."""
    out = {
        s: pd.Series([], index=pd.DatetimeIndex([], name="date"), dtype=float, name="close")
        for s in symbols
    }
    if not symbols:
        return out
    marks = ",".join("?" * len(symbols))
    since = "" if start is None else " AND date >= ?"
    rows = db.execute(
        f"SELECT symbol, date, close FROM bars WHERE symbol IN ({marks}) AND provisional = 0"
        f"{since} ORDER BY symbol, date",
        [*symbols, *([] if start is None else [start])],
    ).fetchall()
    if not rows:
        return out
    syms = np.array([r[0] for r in rows], dtype=object)
    index = pd.DatetimeIndex(pd.to_datetime([r[1] for r in rows]), name="date")
    values = np.array([r[2] for r in rows], dtype=float)
    edges = np.flatnonzero(syms[1:] != syms[:-1]) + 1
    for a, b in zip(np.r_[0, edges], np.r_[edges, len(rows)], strict=True):
        out[str(syms[a])] = pd.Series(values[a:b], index=index[a:b], name="close")
    return out
