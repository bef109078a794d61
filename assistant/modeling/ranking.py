"""The ranking in the application: the ranking model trained with the watchlist, registered like every
model (kind `ranking`, `<home>/models/ranking-v<N>/`), and served to the cycle as each
symbol's rank and expected relative move per horizon (`models.ranking` holds the model).

Training: on a panel of fewer than `models.ranking.MIN_SYMBOLS` symbols it makes no
ranking and says so. Otherwise an evaluation fit at the start of the held-out last 15% of
labelled sessions (on the rows whose label had matured by then) is scored once on those
sessions (daily Spearman IC, Newey-West t, quintile spread: `models.scorecard`), then the
serving fit uses every labelled row. The ranking serves without a promotion gate: whether
it has an edge is what `report` and `backtest` show, next to its record.
Serving follows the registry's as-of rule (`registry.serving_as_of`), a broken artifact is
quarantined, and a model ranks only the symbols it was trained on.

The universe (`[ranking] universe`): the symbols the ranking learns on, is scored on and
ranks among: the watchlist (the default), every symbol with stored bars (`stored`), or a
folder of CSV files read as `import` reads them (not stored: the watchlist stays as it
is); the watched symbols always belong to it. Breadth is what an IC needs (a date's IC over
n symbols has a standard error near 1/sqrt(n - 1)), so the model is fitted and scored on
the universe's cross-section, and a cycle computes the features of a date across the
universe's symbols with a bar that date (as the model was trained: a factor's rank among 6
watched symbols is not the same feature as its rank among 100), predicts them all, ranks
them all, and serves the watched symbols' ranks: "3 of 40" is the watched symbol's place in
the universe, and its expected move is relative to the universe's mean.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlite_utils

from models.ranking import KIND as KIND  # re-exported: the trainer and server read it
from store import registry
from vocab.horizons import horizon_key

if TYPE_CHECKING:
    from assistant.config import Settings
    from models.ranking import Ranker
    from models.scorecard import RankingSkill

# the ranking's held-out record per horizon key (None: no date with enough symbols)
Record = dict[str, "RankingSkill | None"]
# the serving fit, its held-out record per horizon key, the train and test ranges
Fit = tuple["Ranker", Record, dict[str, tuple[str, str]]]

log = logging.getLogger(__name__)

HELD_OUT = 0.15  # the last share of labelled sessions the evaluation fit is scored on


@dataclass
class Ranks:
    """A cycle's ranks: {symbol: {h: (rank, of, expected relative log move)}}."""

    model_version: str
    as_of: date
    by_symbol: dict[str, dict[int, tuple[int, int, float]]] = field(default_factory=dict)


def universe_bars(
    db: sqlite_utils.Database,
    settings: Settings,
    watched: dict[str, pd.DataFrame],
    end: date | None,
    start: date | None = None,
) -> dict[str, pd.DataFrame]:
    """The universe's final daily bars from `start` to `end` inclusive (None: all), the
    `watched` symbols' own bars first (they always belong to it). `[ranking] universe`:
    watchlist (just `watched`), stored (every symbol with stored bars) or a CSV folder (a
    file that cannot be read is left out and logged). A universe folder that cannot serve
    (gone, emptied) raises AssistantError with the reason: never the watchlist alone in
    its place, a ranking fitted on the universe would then rank among other symbols."""
    from store import bars as bar_store
    from store.symbols import active_symbols

    universe = settings.ranking.universe
    out = dict(watched)
    if universe == "watchlist":
        return out
    if universe == "stored":  # a watched symbol comes from `watched` only (usable bars)
        skip = set(out) | set(active_symbols(db))
        others = [s for s in bar_store.stored_symbols(db) if s not in skip]
        for sym, frame in bar_store.load_many(db, others, start=start, end=end).items():
            frame = frame[frame["provisional"] == 0]
            if len(frame):
                out[sym] = frame
        return out
    from assistant.config import universe_problem
    from assistant.errors import AssistantError

    why = universe_problem(settings)
    if why:
        raise AssistantError(why)
    lo, hi = (pd.Timestamp(start) if start else None), (pd.Timestamp(end) if end else None)
    for sym, frame in _folder(settings, Path(universe).expanduser()).items():
        part = frame.loc[lo:hi]
        if sym not in out and len(part):
            out[sym] = part
    return out


# (path, mtime_ns, size) -> {symbol: closes}: a cycle re-reads only the files that changed
_FOLDER_CACHE: dict[tuple[str, int, int], dict[str, pd.DataFrame]] = {}


def _folder(settings: Settings, folder: Path) -> dict[str, pd.DataFrame]:
    """{symbol: frame with a close column} from every CSV file of `folder`, as `import`
    reads them (symbol from the file name or its ticker column)."""
    from assistant.config import CSV_SUFFIXES
    from assistant.errors import AssistantError
    from assistant.ingest.sources.csv import load_file
    from store.symbols import SymbolError

    out: dict[str, pd.DataFrame] = {}
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in CSV_SUFFIXES)
    except OSError as exc:  # (gone since universe_problem looked)
        raise AssistantError(
            f"[ranking] universe = {str(folder)!r}: cannot read the folder ({exc.strerror or exc})"
        ) from None
    for path in paths:
        try:
            st = path.stat()
            key = (str(path), st.st_mtime_ns, st.st_size)
            if key not in _FOLDER_CACHE:
                parsed = load_file(
                    path,
                    jump_threshold=settings.collect.jump_threshold,
                    exchange=settings.calendar.exchange,
                )
                for old in [k for k in _FOLDER_CACHE if k[0] == key[0]]:
                    _FOLDER_CACHE.pop(old, None)
                _FOLDER_CACHE[key] = {s: f[["close"]].astype(float) for s, f in parsed}
            for sym, frame in _FOLDER_CACHE[key].items():
                out.setdefault(sym, frame)
        except (OSError, AssistantError, SymbolError, ValueError) as exc:
            log.warning("ranking universe: %s left out (%s)", path.name, exc)
    return out


def market_close(bars: dict[str, pd.DataFrame]) -> pd.Series | None:
    from models.features import MARKET_INDEX

    return bars[MARKET_INDEX]["close"].astype(float) if MARKET_INDEX in bars else None


def fit_ranking(bars: dict[str, pd.DataFrame], horizons: tuple[int, ...]) -> Fit:
    """(the serving fit, its held-out record, ranges); TooFewSymbols below the minimum,
    ValueError when the history is too short."""
    from models import ranking, scorecard

    closes = ranking.wide_closes(bars)
    data = ranking.panel(closes, market_close(bars), horizons)
    data = data[data["xs_ret_5"].notna()]
    dates = data.index.get_level_values("date")
    labelled = np.isfinite(data[[f"rel_h{h}" for h in horizons]].to_numpy()).all(axis=1)
    sessions = np.unique(dates[labelled])
    if len(sessions) < 300:
        raise ValueError(f"only {len(sessions)} labelled sessions; a ranking needs 300")
    test_start = pd.Timestamp(sessions[int(len(sessions) * (1 - HELD_OUT))])
    held = ranking.fit_at(data, test_start, horizons)
    test = data[(dates >= test_start) & labelled]
    pred = held.predict(test)
    record: Record = {}
    for i, h in enumerate(horizons):
        frame = pd.DataFrame(
            {
                "date": test.index.get_level_values("date"),
                "symbol": test.index.get_level_values("symbol"),
                "expected": pred[:, i],
                "realized": test[f"rel_h{h}"].to_numpy(),
            }
        )
        skill = scorecard.ranking_skill(frame, h)
        versus = scorecard.versus_factors(frame, closes, h) if skill else None
        record[horizon_key(h)] = scorecard.judged(skill, versus)
    model = ranking.fit_at(data, None, horizons)
    first = str(pd.Timestamp(sessions[0]).date())
    last = str(pd.Timestamp(sessions[-1]).date())
    before = sessions[sessions < test_start.to_datetime64()]
    # as the forecasters' rows read: the evaluation fit's train and test spans (the serving
    # fit then used every labelled session, through `trained_through`)
    ranges = {
        "train": (first, str(pd.Timestamp(before[-1]).date())),
        "test": (str(test_start.date()), last),
    }
    model.info.trained_through = last
    return model, record, ranges


def train_ranking(
    db: sqlite_utils.Database,
    home: Path,
    bars: dict[str, pd.DataFrame],
    horizons: tuple[int, ...],
    known_on: date | None,
    uncovered: list[str] | None = None,
    fitted: Fit | Exception | None = None,
) -> tuple[str | None, str, str, Record | None]:
    """Fit, store and register the ranking; (model id or None, status, reason, its held-out
    record: None when there is no ranking).
    `uncovered`: watched symbols the serving ranking ranks that this one would not (then
    it stays a candidate, as a forecaster would). `fitted`: what `fit_ranking(bars,
    horizons)` returned or raised, when it ran already (beside the forecasters' fits)."""
    from assistant.modeling import disk
    from models import artifacts, ranking

    try:
        if isinstance(fitted, Exception):
            raise fitted
        model, record, ranges = fit_ranking(bars, horizons) if fitted is None else fitted
    except ranking.TooFewSymbols as exc:
        return None, "skipped", f"{exc}: no ranking", None
    except ValueError as exc:
        return None, "skipped", f"not enough history for a ranking ({exc})", None
    with disk.lock(home):
        disk.tidy(db, home)
        version = disk.next_version(db, home, KIND)
        model_id = f"{KIND}-v{version}"
        rel = Path("models") / model_id
        model.save(home / rel)
        status, reason = (
            "serving",
            f"ranks the watchlist among {len(bars)} symbols (no promotion gate: its record "
            "says what it is worth)",
        )
        if uncovered:
            status, reason = (
                "candidate",
                f"trained on {', '.join(sorted(bars))} only; the serving ranking also ranks "
                f"{', '.join(uncovered)} (train the watchlist to replace it)",
            )
        try:
            ranking.Ranker.load(home / rel)
        except artifacts.ArtifactError as exc:
            status, reason = "quarantined", f"{registry.LOAD_BACK}: {exc}"
        except artifacts.ArtifactUnavailable as exc:  # proves nothing; not promoted unchecked
            status, reason = "candidate", f"its load-back could not read it ({exc}): not promoted"
        registry.register(
            db,
            model_id=model_id,
            kind=KIND,
            version=version,
            symbols=sorted(bars),
            horizons=list(horizons),
            ranges=ranges,
            feature_hash=ranking.feature_hash(),
            metrics={"test": record, "info": model.info.to_dict()},
            artifact_path=str(rel),
            data_end=max(str(b.index[-1].date()) for b in bars.values()),
            known_on=known_on,
            status="candidate" if status == "serving" else status,
            reason=None if status == "serving" else reason,
        )
    if status == "serving":
        registry.promote(db, model_id, reason)
    return model_id, status, reason, record


def load_ranking(
    db: sqlite_utils.Database, home: Path, as_of: date | None
) -> tuple[registry.ModelRow, Ranker] | None:
    """The ranking model serving calls as of `as_of` (latest: the serving one), or None. A
    broken artifact is quarantined and the previous ranking serves instead."""
    from assistant.modeling import quarantine
    from models import artifacts, ranking

    quarantine.recheck(db, home)
    for _ in range(100):  # each pass quarantines one broken artifact
        rows = registry.serving_as_of(db, as_of)[0] if as_of else registry.serving(db, KIND)
        row = next((r for r in rows if r["kind"] == KIND), None)
        if row is None:
            return None
        try:
            from assistant.modeling import disk

            return row, ranking.Ranker.load(disk.artifact_dir(home, row))
        except artifacts.ArtifactError as exc:  # proven broken: never stops a cycle
            fallback = registry.quarantine(db, row["id"], f"unusable artifact: {exc}")
            log.warning("model %s quarantined (%s): %s serves", row["id"], exc, fallback)
        except Exception as exc:  # unreadable now (too many open files ...): next cycle
            quarantine.unavailable(row["id"], exc)
            return None
    return None


def ranks_as_of(
    db: sqlite_utils.Database,
    home: Path,
    bars: dict[str, pd.DataFrame],
    as_of: pd.Timestamp | None,
    day: date | None,
    watched: Collection[str] | None = None,
) -> Ranks | None:
    """Each `watched` symbol's (None: every symbol's) rank (1 = best) among the symbols of
    `bars` (the universe) it was trained on with a bar on `as_of`, and its expected move
    relative to their mean, per horizon; None without a serving ranking model or with
    fewer than MIN_SYMBOLS such symbols."""
    from models import ranking

    if as_of is None:
        return None
    loaded = load_ranking(db, home, day)
    if loaded is None:
        return None
    row, model = loaded
    trained = set(row["symbols"])  # a set: 500 symbols each looked up in it
    mine = {s: b for s, b in bars.items() if s in trained and len(b)}
    if len(mine) < ranking.MIN_SYMBOLS:
        return None
    # only the as-of row is ranked (the factors still see the whole window)
    X = ranking.features(
        ranking.wide_closes(mine), market_close(bars), dates=pd.DatetimeIndex([as_of])
    )
    if as_of not in X.index.get_level_values("date"):
        return None
    today = X.xs(as_of, level="date")
    assert isinstance(today, pd.DataFrame)  # a frame of FEATURES, one row per symbol
    today = today[today["xs_ret_5"].notna()]
    if len(today) < ranking.MIN_SYMBOLS:
        return None
    pred = model.predict(today)
    out = Ranks(row["id"], as_of.date())
    names = today.index.tolist()  # the symbols, each once (one date's rows)
    for i, h in enumerate(model.horizons):
        score = pd.Series(pred[:, i], index=today.index)
        ranks = ranking.rank_of(score)
        # each symbol's rank and score by position (not 2 Series look-ups a symbol)
        rank_at = dict(zip(ranks.index.tolist(), ranks.to_numpy().tolist(), strict=True))
        scores = score.to_numpy().tolist()
        for sym, value in zip(names, scores, strict=True):
            if watched is not None and sym not in watched:
                continue
            out.by_symbol.setdefault(str(sym), {})[h] = (int(rank_at[sym]), len(today), value)
    return out
