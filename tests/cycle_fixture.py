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
