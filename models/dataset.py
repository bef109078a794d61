"""Datasets: features + targets per (symbol, date), chronological splits with a purge gap.

A `Dataset` carries the feature frame with all history up to the end of its part (so
windowed models can look back across the boundary, never forward) and a boolean `rows`
mask naming the rows that belong to the part. Splits are by date over the pooled panel:
train 70 / val 15 / test 15 with a gap of max(h) sessions between parts, so no training
label matures inside the validation or test period. Scalers fit on train rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from models import features, targets

WARMUP = 35  # sessions of history a row needs before it is used to fit or score
TRANSFORM_ROWS = 65_536  # rows a scaler transforms at a time
CONTEXT = 64  # sessions of look-back kept before a part's first row: the longest model window


@dataclass(frozen=True)
class Dataset:
    X: pd.DataFrame  # features, MultiIndex (symbol, date), sorted
    Y: pd.DataFrame  # targets aligned with X (ret_h*, cls_h*)
    rows: np.ndarray  # bool: rows of X that belong to this part
    horizons: tuple[int, ...]

    @property
    def n(self) -> int:
        return int(self.rows.sum())

    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.X.index.get_level_values("date")[self.rows])

    def ret(self, horizons: tuple[int, ...] | None = None) -> np.ndarray:
        """(n, H) forward log returns of the part's rows (for `horizons`, default all)."""
        ret: np.ndarray = self.Y[[f"ret_h{h}" for h in horizons or self.horizons]].to_numpy()[
            self.rows
        ]
        return ret

    def cls(self, horizons: tuple[int, ...] | None = None) -> np.ndarray:
        """(n, H) classes of the part's rows (for `horizons`, default all)."""
        cls: np.ndarray = self.Y[[f"cls_h{h}" for h in horizons or self.horizons]].to_numpy()[
            self.rows
        ]
        return cls


def panel(bars: dict[str, pd.DataFrame], horizons: tuple[int, ...]) -> Dataset:
    """Everything: features and targets of every symbol; rows = usable (warm, labelled) rows."""
    X = features.build_panel(bars)
    Y = targets.build_panel(bars, horizons).reindex(X.index)
    position = X.groupby(level="symbol").cumcount().to_numpy()
    labelled = np.isfinite(Y[[f"ret_h{h}" for h in horizons]].to_numpy()).all(axis=1)
    return Dataset(X, Y, (position >= WARMUP) & labelled, tuple(horizons))


def part(data: Dataset, start: pd.Timestamp | None, end: pd.Timestamp | None) -> Dataset:
    """Rows with start <= date <= end; X and Y cut at `end` (the future is not carried) and
    CONTEXT sessions before `start` (a window's look-back; older rows are not needed)."""
    dates = data.X.index.get_level_values("date")
    keep = np.ones(len(dates), bool) if end is None else np.asarray(dates <= end)
    if start is not None:
        keep &= np.asarray(dates >= _sessions_before(dates, pd.Timestamp(start), CONTEXT))
    rows = data.rows & keep & (True if start is None else np.asarray(dates >= start))
    return Dataset(data.X[keep], data.Y[keep], rows[keep], data.horizons)


def _sessions_before(dates: pd.Index, start: pd.Timestamp, n: int) -> pd.Timestamp:
    """The date `n` distinct dates of the panel before `start` (or its first date)."""
    uniq = pd.DatetimeIndex(dates.unique()).sort_values()
    pos = int(uniq.searchsorted(start))
    return uniq[max(pos - n, 0)]


def recent(data: Dataset, max_rows: int, end: pd.Timestamp | None = None) -> Dataset:
    """At most `max_rows` usable rows: those of the most recent sessions (older sessions
    stop counting as rows, and only CONTEXT sessions of them stay as look-back). A big
    panel trains on its recent years; a small one is returned as it is. With `end`, of
    `part(data, None, end)`, without first copying all of that part."""
    dates = data.X.index.get_level_values("date")
    rows = data.rows if end is None else data.rows & np.asarray(dates <= end)
    if int(rows.sum()) <= max_rows:
        return data if end is None else part(data, None, end)
    start = _recent_start(rows, dates, max_rows, end)
    if end is not None and pd.isna(start):
        return recent(part(data, None, end), max_rows)  # fewer rows than one session's
    return part(data, start, end)


def recent_start(data: Dataset, max_rows: int) -> pd.Timestamp | None:
    """The first session of `recent(data, max_rows)` (None: every row fits; NaT: not even
    the newest session's): split from there (`split(data, start=...)`) to split the recent
    rows without copying them first."""
    if data.n <= max_rows:
        return None
    return _recent_start(data.rows, data.X.index.get_level_values("date"), max_rows, None)


def _recent_start(
    rows: np.ndarray, dates: pd.Index, max_rows: int, end: pd.Timestamp | None
) -> pd.Timestamp:
    """The oldest session whose rows and every newer session's fit in `max_rows` (NaT: none)."""
    used = pd.Series(rows).groupby(np.asarray(dates)).sum().sort_index()
    if end is not None:
        used = used[used.index <= end]
    newest_first = used.iloc[::-1].cumsum()
    return pd.Timestamp(newest_first[newest_first <= max_rows].index.min())


@dataclass(frozen=True)
class Split:
    train: Dataset
    val: Dataset
    test: Dataset
    ranges: dict[str, tuple[str, str]]


def split(
    data: Dataset, fractions: tuple[float, float] = (0.70, 0.15), start: pd.Timestamp | None = None
) -> Split:
    """Chronological train/val/test by date with a purge gap of max(h) sessions. With
    `start` (`recent_start`), of the rows from that session on: the same parts as
    `split(recent(data, max_rows))`, cut from `data` without the copy of its recent rows
    in between (each part keeps CONTEXT sessions of look-back, as `part` does)."""
    every = data.X.index.get_level_values("date")
    usable_rows = data.rows if start is None else data.rows & np.asarray(every >= start)
    dates = np.array(sorted(set(every[usable_rows])))
    gap = max(data.horizons)
    usable = len(dates) - 2 * gap
    if usable < 60:
        raise ValueError(f"only {len(dates)} usable sessions; need more history to split")
    n_train = int(usable * fractions[0])
    n_val = int(usable * fractions[1])
    tr = (dates[0], dates[n_train - 1])
    va = (dates[n_train + gap], dates[n_train + gap + n_val - 1])
    te = (dates[n_train + 2 * gap + n_val], dates[-1])
    ranges = {
        k: (str(a.date()), str(b.date()))
        for k, (a, b) in {"train": tr, "val": va, "test": te}.items()
    }
    return Split(part(data, *tr), part(data, *va), part(data, *te), ranges)


RECENT_VAL = 63  # sessions of the most recent labelled past that early stopping uses


@dataclass(frozen=True)
class Walk:
    """A walk-forward fit: train on every labelled row up to the recent validation slice."""

    train: Dataset
    val: Dataset
    cutoff: pd.Timestamp  # the last session whose label had matured: the model's data end


def walk_split(
    data: Dataset,
    now: pd.Timestamp | None = None,
    val_sessions: int = RECENT_VAL,
    max_rows: int | None = None,
) -> Walk:
    """Train/val from the rows whose labels had matured by `now` (default: the last date):
    validation is the most recent `val_sessions` labelled sessions (at most a fifth), train
    everything before it (with `max_rows`, its most recent rows: see `recent`), with a
    purge gap of max(h) sessions between them."""
    gap = max(data.horizons)
    dates = np.array(sorted(set(data.X.index.get_level_values("date"))))
    pos = (
        len(dates) - 1
        if now is None
        else int(np.searchsorted(dates, pd.Timestamp(now).to_datetime64(), side="right")) - 1
    )
    cutoff = dates[max(pos - gap, 0)]
    labelled = np.array(sorted(set(data.X.index.get_level_values("date")[data.rows])))
    labelled = labelled[labelled <= cutoff]
    if len(labelled) < 120:
        when = "" if now is None else f" before {pd.Timestamp(now).date()}"
        raise ValueError(f"only {len(labelled)} labelled sessions{when}; need 120")
    n_val = max(min(val_sessions, len(labelled) // 5), 20)
    train_end, val_start = labelled[-n_val - gap - 1], labelled[-n_val]
    val = part(data, val_start, cutoff)
    if max_rows is None:
        train = part(data, None, train_end)
    else:  # the capped rows only: a 500-symbol panel's whole past is not copied first
        train = recent(data, max(max_rows - val.n, 1), pd.Timestamp(train_end))
    return Walk(train, val, pd.Timestamp(cutoff))


@dataclass(frozen=True)
class Scaler:
    """Per-feature mean and std fit on train rows; stored as plain numbers."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, X: pd.DataFrame, rows: np.ndarray) -> Scaler:
        values = X.to_numpy()[rows]
        with np.errstate(all="ignore"):
            mean = np.nanmean(values, axis=0) if len(values) else np.zeros(X.shape[1])
            std = np.nanstd(values, axis=0) if len(values) else np.ones(X.shape[1])
        mean = np.nan_to_num(mean)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        return cls(tuple(float(v) for v in mean), tuple(float(v) for v in std))

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Scaled float32 array; missing values become 0 (the train mean); clipped to ±10.
        In float64, 65,536 rows at a time (the same values: each is computed alone), so a
        big part's float64 intermediates are not held whole."""
        values = X.to_numpy(dtype=np.float64)
        mean, std = np.asarray(self.mean), np.asarray(self.std)
        out = np.empty(values.shape, np.float32)
        for i in range(0, len(values), TRANSFORM_ROWS):
            z: npt.NDArray[np.float64] = (values[i : i + TRANSFORM_ROWS] - mean) / std
            out[i : i + TRANSFORM_ROWS] = np.clip(
                np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -10, 10
            )
        return out

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> Scaler:
        return cls(tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))


@dataclass(frozen=True)
class Windows:
    """Windows of rows without copying them: `values` (N + 1, F) holds every row once plus a
    zero row at the end, `index` (n, width) names the rows of each window (the zero row
    before the symbol's first row). `take(sel)` builds only the windows a batch needs, so a
    500-symbol panel does not hold width copies of itself."""

    values: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def take(self, sel: np.ndarray | slice) -> np.ndarray:
        windows: np.ndarray = self.values[self.index[sel]]
        return windows


def window_index(values: np.ndarray, symbols: np.ndarray, rows: np.ndarray, width: int) -> Windows:
    """For each selected row, the `width` rows of the same symbol ending at it (zero-padded
    before the symbol's first row). Trailing only, never ahead."""
    n = len(values)
    starts = np.r_[0, np.flatnonzero(symbols[1:] != symbols[:-1]) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, n]))  # first row of each row's symbol
    idx = np.flatnonzero(rows)
    offsets = idx[:, None] - np.arange(width - 1, -1, -1)[None, :]
    valid = offsets >= first[idx][:, None]
    padded = np.concatenate([values, np.zeros((1, values.shape[1]), values.dtype)])
    return Windows(padded, np.where(valid, offsets, n))
