"""Which symbols' stored bars can be trained on: one broken series must not stop the rest.

Bars that reached the store before validation was strict (or through a path that missed
it) can hold an absurd price; features built from it overflow what the models compute in
(float32), and one symbol would fail every training run. Such a symbol is left out with a
reason the caller reports; the others train.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from assistant.ingest.sources.validate import MAX_PRICE, MAX_VOLUME, MIN_PRICE

if TYPE_CHECKING:
    from models.dataset import Dataset

PRICES = ["open", "high", "low", "close"]
LIMIT = float(np.finfo(np.float32).max) / 1e3  # what float32 models hold, with headroom
CHUNK_ROWS = 65_536  # rows screened at a time


def bars_problem(frame: pd.DataFrame) -> str | None:
    """Why one symbol's bars cannot be trained on, or None."""
    for col in PRICES:
        values = frame[col].to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < MIN_PRICE) | (values > MAX_PRICE)
        if bad.any():
            i = int(np.argmax(bad))
            return f"{col} {values[i]:g} on {frame.index[i]:%Y-%m-%d} is not a sane price"
    volume = frame["volume"].fillna(0.0).to_numpy(dtype=float)
    bad = ~np.isfinite(volume) | (volume < 0) | (volume > MAX_VOLUME)
    if bad.any():
        i = int(np.argmax(bad))
        return f"volume {volume[i]:g} on {frame.index[i]:%Y-%m-%d} is not a sane volume"
    return None


def panel_problems(X: pd.DataFrame, Y: pd.DataFrame) -> dict[str, str]:
    """Symbols whose features or targets hold values no model can take (inf, or beyond
    float32), with the first such column."""
    out: dict[str, str] = {}
    symbols = X.index.get_level_values("symbol")
    for name, frame in (("feature", X), ("target", Y)):
        # by blocks of rows: a 500-symbol panel's |values| would be another copy of it
        rows = []
        for lo in range(0, len(frame), CHUNK_ROWS):
            values = frame.iloc[lo : lo + CHUNK_ROWS].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                bad = np.isinf(values) | (np.abs(values) > LIMIT)
            rows.append(lo + np.flatnonzero(bad.any(axis=1)))
        first = pd.Series(np.concatenate(rows))
        for i in first.groupby(np.asarray(symbols)[first.to_numpy()]).first():
            values = frame.iloc[[i]].to_numpy(dtype=float)[0]
            with np.errstate(invalid="ignore"):
                bad = np.isinf(values) | (np.abs(values) > LIMIT)
            col = frame.columns[int(np.argmax(bad))]
            why = f"{name} {col} is {values[bad][0]:g} on {X.index[i][1]:%Y-%m-%d}"
            out.setdefault(str(symbols[i]), why + ": no model can use it")
    return out


def screen(bars: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """(the bars to train on, symbol -> why it was left out)."""
    skipped = {sym: why for sym, b in bars.items() if (why := bars_problem(b)) is not None}
    return {s: b for s, b in bars.items() if s not in skipped}, skipped


def usable_panel(
    bars: dict[str, pd.DataFrame], horizons: tuple[int, ...]
) -> tuple[dict[str, pd.DataFrame], Dataset | None, dict[str, str]]:
    """(the bars kept, their panel or None when none is left, symbol -> why left out):
    the bars screened first, then the features and targets built from the rest."""
    from models import dataset

    bars, skipped = screen(bars)
    data = dataset.panel(bars, horizons) if bars else None
    if data is not None and (late := panel_problems(data.X, data.Y)):
        skipped.update(late)
        bars = {s: b for s, b in bars.items() if s not in late}
        data = dataset.panel(bars, horizons) if bars else None
    return bars, data, skipped
