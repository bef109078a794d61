"""The ranking: which symbols will do better than the others over h sessions.

The one place daily equity data is known to carry a little information is the cross-section
(short-term reversal, 12-1 momentum, low volatility, beta): not whether a stock rises, but
whether it beats the others. This module ranks a panel of symbols per date and horizon.

- `features(closes, index_close)`: per (date, symbol), each raw factor ranked across the
  symbols of that date and centred (-0.5 .. 0.5): returns over 1 and 5 sessions (reversal),
  12-1 momentum (the return from 252 to 21 sessions ago), 20-session volatility, 60-session
  beta to the market and the beta-adjusted (idiosyncratic) move over 1, 5 and 20 sessions.
  Every raw value at t uses closes up to t only and the rank uses the same date only, so
  the canary holds. (A plain market-relative move would rank exactly like the own move:
  the market is the same for every symbol on a date; the beta-adjusted one does not.)
- `relative_targets(closes, h)`: the forward h-session log return minus that date's
  cross-sectional mean (a LABEL, never a feature).
- `Ranker`: per horizon one XGBoost regressor on the demeaned forward return (winsorized at
  the training targets' 1st/99th percentiles), shallow and early-stopped on the most recent
  labelled sessions. Its prediction is the expected relative move (log return over h
  sessions, relative to the panel's mean); the rank follows from it. Saved as UBJ + meta.json.
- `walk_forward(...)`: per-date scores per symbol, refit every `retrain_every` sessions on
  the rows whose label had matured (the plain function a policy such as "hold the top of
  the ranking" or a benchmark calls).

A panel of fewer than MIN_SYMBOLS symbols makes no ranking (`TooFewSymbols`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from models import artifacts, market_features
from models.base import Facts
from models.indicators import rolling
from vocab.horizons import horizon_key

if TYPE_CHECKING:
    import xgboost as xgb

Number = int | float  # a ranking hyperparameter
When = pd.Timestamp | np.datetime64 | str  # a session, as anything pd.Timestamp reads

KIND = "ranking"
VERSION = 1
MIN_SYMBOLS = 5  # symbols on a date before it is ranked (as the information coefficient)
MOMENTUM = (252, 21)  # 12-1 momentum: the return from 252 to 21 sessions before t
VOL_WINDOW = 20
RAW: tuple[str, ...] = (
    "ret_1",
    "ret_5",
    "mom_12_1",
    f"vol_{VOL_WINDOW}",
    f"beta_{market_features.BETA_WINDOW}",
    "resid_1",
    "resid_5",
    "resid_20",
)
FEATURES: tuple[str, ...] = tuple(f"xs_{name}" for name in RAW)
VAL_SESSIONS = 126  # the most recent labelled sessions a fit early-stops on
WINSOR = (0.01, 0.99)


class TooFewSymbols(ValueError):
    """The panel has fewer than MIN_SYMBOLS symbols: a ranking would mean nothing."""


def feature_hash() -> str:
    spec = {"version": VERSION, "features": FEATURES, "momentum": MOMENTUM, "vol": VOL_WINDOW}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def wide_closes(bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Dates x symbols of closes (NaN where a symbol has no bar), symbols sorted."""
    return market_features.wide_closes(bars)


def cross_rank(wide: pd.DataFrame) -> pd.DataFrame:
    """Each value's rank among that date's symbols, centred to -0.5 .. 0.5 (ties averaged);
    NaN on a date with fewer than MIN_SYMBOLS values."""
    count = wide.notna().sum(axis=1)
    ranked = (wide.rank(axis=1) - 0.5).div(count, axis=0) - 0.5
    # the same as ranked.where(count >= MIN_SYMBOLS), without pandas aligning the mask
    # column by column (a second per cycle at 500 symbols)
    values = ranked.to_numpy(dtype=float, copy=True)
    values[~(count >= MIN_SYMBOLS).to_numpy()] = np.nan
    return pd.DataFrame(values, index=ranked.index, columns=ranked.columns)


def raw_factors(
    closes: pd.DataFrame, index_close: pd.Series | None = None
) -> dict[str, pd.DataFrame]:
    """The raw factors, wide (dates x symbols), each at t from closes up to t only."""
    logc = cast(pd.DataFrame, np.log(closes.astype(float)))
    r1 = market_features.panel_log_returns(closes)
    market = market_features.market_log_returns(closes, index_close)
    beta = market_features.rolling_beta(closes, market)
    far, near = MOMENTUM
    out: dict[str, pd.DataFrame] = {
        "ret_1": r1,
        "ret_5": logc - logc.shift(5),
        "mom_12_1": logc.shift(near) - logc.shift(far),
        f"vol_{VOL_WINDOW}": rolling(r1, VOL_WINDOW, "std", VOL_WINDOW),
        f"beta_{market_features.BETA_WINDOW}": beta,
    }
    for w in (1, 5, 20):
        own = market_features.trailing_sum(r1, w)
        out[f"resid_{w}"] = own - beta.mul(market_features.trailing_sum(market, w), axis=0)
    return out


def features(
    closes: pd.DataFrame,
    index_close: pd.Series | None = None,
    dates: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Long frame indexed (date, symbol), columns FEATURES: the cross-sectional ranks of the
    raw factors. Rows where the symbol has a close; NaN where a factor's history is short.
    `dates`: only the rows of those dates (the factors still see all of `closes`; a date's
    ranks depend on that date's row only, so they equal the whole frame's rows)."""
    raw = raw_factors(closes, index_close)
    if dates is not None:
        keep = closes.index.isin(dates)
        raw = {k: v[keep] for k, v in raw.items()}
        closes = closes[keep]
    long = pd.concat({f"xs_{k}": cross_rank(raw[k]).stack(future_stack=True) for k in RAW}, axis=1)
    long.index.names = ["date", "symbol"]
    have = closes.stack(future_stack=True).notna()
    have.index.names = ["date", "symbol"]
    long = long[have.reindex(long.index).fillna(False).to_numpy(bool)]
    return long[list(FEATURES)].astype("float64")


def relative_targets(closes: pd.DataFrame, h: int) -> pd.DataFrame:
    """Wide forward h-session log return minus the date's cross-sectional mean (a LABEL);
    NaN on a date with fewer than MIN_SYMBOLS known outcomes."""
    fwd = market_features.forward_returns(closes, h)
    count = fwd.notna().sum(axis=1)
    return fwd.sub(fwd.mean(axis=1), axis=0).where(count >= MIN_SYMBOLS, np.nan)


def panel(
    closes: pd.DataFrame, index_close: pd.Series | None, horizons: tuple[int, ...]
) -> pd.DataFrame:
    """Features and targets (rel_h{h}) in one long (date, symbol) frame, sorted by date."""
    if closes.shape[1] < MIN_SYMBOLS:
        raise TooFewSymbols(
            f"a ranking needs at least {MIN_SYMBOLS} symbols; the panel has {closes.shape[1]}"
        )
    X = features(closes, index_close)
    for h in horizons:
        y = relative_targets(closes, h).stack(future_stack=True)
        y.index.names = ["date", "symbol"]
        X[f"rel_h{h}"] = y.reindex(X.index)
    return X.sort_index()


class Ranker:
    """Per horizon, a shallow XGBoost regressor of the demeaned forward return on FEATURES."""

    kind = KIND
    defaults: dict[str, Number] = {
        "rounds": 300,
        "depth": 2,
        "eta": 0.03,
        "subsample": 0.7,
        "colsample": 0.8,
        "min_child_weight": 200,
        "patience": 30,
        "threads": 1,
        "seed": 0,
    }

    def __init__(self, horizons: tuple[int, ...] = (1, 3, 5), **params: Number) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{KIND}: unknown parameters {sorted(unknown)}")
        self.horizons = tuple(int(h) for h in horizons)
        self.params = {**self.defaults, **params}
        self.boosters: dict[int, xgb.Booster] = {}
        self.scale: dict[int, float] = {}
        self.rounds: dict[int, int] = {}
        self.info = Facts()  # rounds per horizon; `trained_through` where the app sets it

    def _booster_params(self) -> dict[str, str | Number]:
        p = self.params
        return {
            "objective": "reg:squarederror",
            "max_depth": p["depth"],
            "eta": p["eta"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample"],
            "min_child_weight": p["min_child_weight"],
            "nthread": p["threads"],
            "seed": p["seed"],
            "tree_method": "hist",
            "verbosity": 0,
        }

    def fit(self, data: pd.DataFrame, train: np.ndarray, val: np.ndarray) -> Ranker:
        """Fit each horizon on the `train` rows of a `panel` frame, early-stopping on the
        `val` rows (boolean masks; rows without a label are skipped)."""
        import xgboost as xgb  # here: the application imports this module to name the kind

        X = data[list(FEATURES)].to_numpy()
        for h in self.horizons:
            y = data[f"rel_h{h}"].to_numpy()
            tr, va = train & np.isfinite(y), val & np.isfinite(y)
            if tr.sum() < 100 or va.sum() < 20:
                raise ValueError(f"{KIND}: too few labelled rows to fit h={h}")
            lo, hi = np.quantile(y[tr], WINSOR)
            scale = float(np.std(np.clip(y[tr], lo, hi))) or 1.0
            booster = xgb.train(
                self._booster_params(),
                xgb.DMatrix(X[tr], label=np.clip(y[tr], lo, hi) / scale),
                int(self.params["rounds"]),
                evals=[(xgb.DMatrix(X[va], label=np.clip(y[va], lo, hi) / scale), "val")],
                early_stopping_rounds=int(self.params["patience"]),
                verbose_eval=False,
            )
            self.boosters[h], self.scale[h] = booster, scale
            self.rounds[h] = int(booster.best_iteration) + 1
        self.info.rounds = {horizon_key(h): n for h, n in self.rounds.items()}
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """(n, H) expected relative move (log return over h sessions minus the panel's mean)."""
        import xgboost as xgb

        if not self.boosters:
            raise ValueError(f"{KIND}: predict before fit")
        d = xgb.DMatrix(X[list(FEATURES)].to_numpy())
        return np.column_stack(
            [
                self.boosters[h].predict(d, iteration_range=(0, self.rounds[h])) * self.scale[h]
                for h in self.horizons
            ]
        )

    def save(self, directory: Path) -> None:
        """Write the model into `directory` (created atomically; must not exist)."""
        directory = Path(directory)
        if not self.boosters:
            raise ValueError("cannot save an unfitted ranking model")
        tmp = artifacts.temp_dir_for(directory)
        try:
            names = []
            for h, booster in self.boosters.items():
                booster.save_model(str(tmp / f"rank_h{h}.ubj"))
                names.append(f"rank_h{h}.ubj")
            meta = {
                "format": 1,
                "kind": KIND,
                "horizons": list(self.horizons),
                "params": self.params,
                "features": list(FEATURES),
                "feature_hash": feature_hash(),
                "state": {
                    "scale": {horizon_key(h): s for h, s in self.scale.items()},
                    "rounds": {horizon_key(h): n for h, n in self.rounds.items()},
                },
                "info": self.info.to_dict(),
                "files": {n: artifacts.sha256(tmp / n) for n in names},
            }
            artifacts.write_json(tmp / artifacts.META, meta)
            artifacts.publish_dir(tmp, directory)
        except BaseException:
            artifacts.discard(tmp)
            raise

    @classmethod
    def load(cls, directory: Path) -> Ranker:
        """Load a saved ranking model; ArtifactError for anything broken or foreign."""
        import xgboost as xgb

        directory = Path(directory)
        meta = artifacts.read_json(directory / artifacts.META)
        if not isinstance(meta, dict) or meta.get("format") != 1 or meta.get("kind") != KIND:
            raise artifacts.ArtifactError("meta.json: not a ranking model")
        if meta.get("feature_hash") != feature_hash():
            raise artifacts.ArtifactError("ranking features changed since this model was trained")
        artifacts.check_files(directory, meta.get("files", {}))
        try:
            model = cls(tuple(meta["horizons"]), **meta["params"])
            model.info = Facts.from_dict(meta.get("info") or {})
            for h in model.horizons:
                booster = xgb.Booster(params={"nthread": model.params["threads"]})
                booster.load_model(str(directory / f"rank_h{h}.ubj"))
                model.boosters[h] = booster
                model.scale[h] = float(meta["state"]["scale"][horizon_key(h)])
                model.rounds[h] = int(meta["state"]["rounds"][horizon_key(h)])
        except OSError as exc:  # the files were just verified: only a missing one is proof
            raise artifacts.os_error(exc, f"{KIND} state") from None
        except Exception as exc:  # any loader failure means the artifact is unusable
            raise artifacts.ArtifactError(
                f"{KIND}: cannot load ({type(exc).__name__}: {exc})"
            ) from None
        return model


def fit_masks(
    dates: np.ndarray, sessions: np.ndarray, now_pos: int, h_max: int, val_sessions: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) row masks for a fit made at session position `now_pos` (rows at that
    session or later are never used): rows whose label matured by then (position <= now -
    h_max), the last `val_sessions` of those sessions for early stopping (at most a fifth),
    train everything before them less a purge gap of h_max sessions."""
    pos = np.searchsorted(sessions, dates)
    last = now_pos - h_max
    n_val = max(min(val_sessions, (last + 1) // 5), 20)
    val_start = last - n_val + 1
    train = pos <= val_start - 1 - h_max
    val = (pos >= val_start) & (pos <= last)
    return train, val


def fit_at(
    data: pd.DataFrame,
    now: pd.Timestamp | None = None,
    horizons: tuple[int, ...] = (1, 3, 5),
    **params: Number,
) -> Ranker:
    """A Ranker fitted on the rows of `data` (a `panel` frame) whose labels had matured by
    session `now` (default: every labelled row)."""
    dates = data.index.get_level_values("date").to_numpy()
    sessions = np.unique(dates)
    now_pos = (
        len(sessions) + max(horizons) - 1
        if now is None
        else int(np.searchsorted(sessions, pd.Timestamp(now).to_datetime64()))
    )
    if now is None:  # every labelled row: "now" is h_max sessions past the last label
        labelled = np.isfinite(data[[f"rel_h{h}" for h in horizons]].to_numpy()).all(axis=1)
        last = np.searchsorted(sessions, dates[labelled].max()) if labelled.any() else 0
        now_pos = int(last) + max(horizons)
    train, val = fit_masks(dates, sessions, now_pos, max(horizons), VAL_SESSIONS)
    return Ranker(horizons, **params).fit(data, train, val)


def walk_forward(
    closes: pd.DataFrame,
    index_close: pd.Series | None = None,
    horizons: tuple[int, ...] = (1, 3, 5),
    *,
    start: When,
    end: When | None = None,
    retrain_every: int = 63,
    refit_at: Sequence[When] | None = None,
    min_train_sessions: int = 252,
    **params: Number,
) -> pd.DataFrame:
    """Walk-forward scores: long frame (date, symbol, horizon, score, realized) for every
    session from `start` to `end`; the score of date D comes from a model refit at the first
    session of D's block (blocks of `retrain_every` sessions, or starting at each date of
    `refit_at`, e.g. each year's first session) on rows whose label had matured by then.
    `realized` is the demeaned forward return (NaN where not yet known). Raises
    TooFewSymbols below MIN_SYMBOLS."""
    data = panel(closes, index_close, horizons)
    data = data[data["xs_ret_5"].notna()]  # a date is ranked once its reversal factor is
    dates = data.index.get_level_values("date").to_numpy()
    sessions = np.unique(dates)
    lo = int(np.searchsorted(sessions, pd.Timestamp(start).to_datetime64()))
    hi = (
        len(sessions)
        if end is None
        else int(np.searchsorted(sessions, pd.Timestamp(end).to_datetime64(), side="right"))
    )
    if lo < min_train_sessions:
        raise ValueError(
            f"the walk starts after {lo} sessions; it needs {min_train_sessions} before it"
        )
    if refit_at is None:
        cuts = list(range(lo, hi, retrain_every))
    else:
        at = np.searchsorted(sessions, pd.DatetimeIndex(list(refit_at)).to_numpy())
        cuts = sorted({lo, *(int(p) for p in at if lo < p < hi)})
    out = []
    for a, b in zip(cuts, [*cuts[1:], hi], strict=True):
        train, val = fit_masks(dates, sessions, a, max(horizons), VAL_SESSIONS)
        model = Ranker(horizons, **params).fit(data, train, val)
        rows = (dates >= sessions[a]) & (dates <= sessions[b - 1])
        block = data[rows]
        pred = model.predict(block)
        for i, h in enumerate(horizons):
            out.append(
                pd.DataFrame(
                    {
                        "date": block.index.get_level_values("date"),
                        "symbol": block.index.get_level_values("symbol"),
                        "horizon": h,
                        "score": pred[:, i],
                        "realized": block[f"rel_h{h}"].to_numpy(),
                    }
                )
            )
    frame = pd.concat(out, ignore_index=True)
    return frame.sort_values(["horizon", "date", "symbol"]).reset_index(drop=True)


def rank_of(scores: pd.Series) -> pd.Series:
    """1 = the best expected relative move among the symbols of one date."""
    return scores.rank(ascending=False, method="first").astype(int)
