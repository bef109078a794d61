"""Targets per horizon h: the forward log return over h sessions and a class DOWN/FLAT/UP,
plus what the baselines knew at t.

The class and its FLAT band are the outcome rules of `models.outcomes` (the band scales
with the symbol's trailing volatility, known at t). Targets look forward by design; they
are only ever used as labels, never as inputs. The baseline columns look backward only:
`maj_h{h}` is the causal majority direction, `last_h{h}` the sign of the last h-session
move, and `clim_{down,flat,up}_h{h}` the class frequencies among moves already known at t
(the climatology a Brier skill score is measured against).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import outcomes
from models.outcomes import DOWN, FLAT, UP  # noqa: F401  (class codes, re-used by callers)


def classify(ret: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Class per row; -1 where the return is unknown. A missing band counts as zero width."""
    return outcomes.move_code(ret, width)


def climatology(cls_known: np.ndarray) -> np.ndarray:
    """(n, 3) class frequencies among the codes in cls_known[:t+1] (-1 = not known yet);
    uniform until a move is known."""
    onehot = np.stack([(cls_known == k).astype(float) for k in (DOWN, FLAT, UP)], axis=1)
    counts = np.cumsum(onehot, axis=0) + 1.0  # one pseudo-count per class
    freqs: np.ndarray = counts / counts.sum(axis=1, keepdims=True)
    return freqs


def build(bars: pd.DataFrame, horizons: tuple[int, ...]) -> pd.DataFrame:
    """Columns ret_h{h} (float, NaN near the end), cls_h{h} (int, -1 where unknown) and the
    causal baseline columns described above."""
    close = bars["close"]
    logc = np.log(close)
    cols: dict[str, np.ndarray] = {}
    for h in horizons:
        width = outcomes.band(close, h).to_numpy()
        ret = (logc.shift(-h) - logc).to_numpy()
        cols[f"ret_h{h}"] = ret
        cols[f"cls_h{h}"] = classify(ret, width)
        cols[f"maj_h{h}"] = outcomes.causal_majority(close, h).to_numpy()
        cols[f"last_h{h}"] = outcomes.last_move(close, h).to_numpy()
        # the move that ended at t started at t-h and was classed with the band known then
        past = classify((logc - logc.shift(h)).to_numpy(), pd.Series(width).shift(h).to_numpy())
        clim = climatology(past)
        for k, name in enumerate(outcomes.CLASSES):
            cols[f"clim_{name}_h{h}"] = clim[:, k]
    return pd.DataFrame(cols, index=bars.index)


def build_panel(bars: dict[str, pd.DataFrame], horizons: tuple[int, ...]) -> pd.DataFrame:
    parts = {sym: build(b, horizons) for sym, b in sorted(bars.items()) if len(b)}
    return pd.concat(parts, names=["symbol", "date"])
