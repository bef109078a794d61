"""Learn: score matured predictions, expire lost ones, adapt signal weights and calibration.

A prediction matures when the final bar of its target session is stored. It is scored
against that close with the outcome rules of `models.outcomes` (actual price, error in %
points, realized class; hit for an UP/DOWN call, none for a FLAT one; and the hits of the
always-up and causal-majority baselines on the same call). One whose
bar has not come `expire_after_sessions` sessions past the target is expired and
counted apart, never as a miss. Then, per (symbol, regime, signal), a signal that voted
the way the market went gains weight and one that voted against it loses weight
(multiplicatively, bounded), each change logged with its reason; and the realized hit
rate per stated-confidence bucket is added to the calibration counts. All of it is one
transaction: a pass lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import compress, repeat
from operator import is_not
from typing import Any, TypedDict, cast

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.calendar import exchange_for, sessions_between
from assistant.config import Settings
from assistant.cycle.plan import DEFAULT_MODEL_WEIGHT, DEFAULT_WEIGHT, RULES_VERSION
from assistant.ingest.collect import source_ends
from models import outcomes
from models.outcomes import buckets_of
from models.signals import SIGNALS
from store import predictions as ledger
from store import weights as weight_store
from store.db import immediate, utcnow
from vocab.dates import session_date
from vocab.jsontypes import Json

VOTERS = (*SIGNALS, "drift")  # the rule votes stored in a call's signals JSON
# what verification reads from each call's signals JSON, and the columns it becomes
EXTRACT = (
    "$.flat_band",
    "$.raw_confidence",
    "$.majority",
    *(f"$.votes.{v}" for v in VOTERS),
    "$.model_return",
    "$.lean",
)
EXTRACT_NAMES = (
    "flat_band",
    "raw_confidence",
    "majority",
    *(f"vote_{v}" for v in VOTERS),
    "vote_model",
    "lean",
)


class WeightChange(TypedDict):
    symbol: str
    regime: str
    signal: str
    old: float | None  # None: the signal had no weight stored yet
    new: float
    reason: str


@dataclass
class VerifyReport:
    as_of: date
    verified: int = 0
    hits: int = 0
    expired: int = 0
    flat: int = 0  # FLAT calls scored: no directional claim, no hit
    pending: int = 0  # matured by date but without a final bar yet
    expired_why: str = ""  # why the expired calls were given up on
    weight_changes: list[WeightChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Json]:
        """The report's fields; `as_of` stays a date (the JSON writers print its text)."""
        return asdict(self)


@dataclass
class Decision:
    """What one pass decides from what it read (`decide`), before anything is written."""

    verdicts: ledger.Verdicts
    expired: list[int]  # ids given up on
    pending: int  # matured by date, still waiting for a final bar
    hits: int
    flat: int
    weight_changes: list[weight_store.WeightChangeRow]
    calibration: list[weight_store.CalibrationRow]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the pass: a 100k backlog allocates some 300k
    tuples (rows read, verdicts), none of them cyclic, and the collections they trigger
    walk the growing heap again and again (0.21-0.26 s of a 2.7 s pass, measured with
    gc.callbacks). Reference counting still frees everything; the collector is back on
    (if it was) when the pass ends, however it ends: as a decorator, after the pass's
    locals are gone, so the first collection after it finds none of those tuples."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@_gc_paused()
def verify(
    db: sqlite_utils.Database, settings: Settings, *, as_of: date | None = None
) -> VerifyReport:
    """Score every matured prediction as of `as_of` (default: today): read what the pass
    needs, decide in pure functions, write once, all in one transaction."""
    as_of = as_of or date.today()
    day = as_of
    cycle = settings.cycle
    report = VerifyReport(as_of=day)
    now = utcnow()
    with immediate(db):
        calls = ledger.maturing(db, as_of, EXTRACT)
        if not calls.id:
            return report
        # the symbols of the calls with a close (in C: a backlog is 100k calls)
        scored = sorted(set(compress(calls.symbol, map(is_not, calls.close, repeat(None)))))
        current = weight_store.load(db, scored) if scored else {}
        decided = decide(calls, current, settings, day, now, source_ends(settings))
        if decided.verdicts.id:
            ledger.mark_verified(db, decided.verdicts)
            weight_store.apply(db, decided.weight_changes, now, day)
            weight_store.add_calibration(db, decided.calibration, day)
        ledger.mark_expired(db, decided.expired, now)
    report.verified = len(decided.verdicts.id)
    report.hits, report.flat = decided.hits, decided.flat
    report.expired, report.pending = len(decided.expired), decided.pending
    report.weight_changes = [
        WeightChange(symbol=sym, regime=regime, signal=name, old=old, new=new, reason=why)
        for sym, regime, name, old, new, why in decided.weight_changes
    ]
    if report.expired:
        report.expired_why = (
            f"{report.expired} call(s) expired: no final bar of the target session was stored "
            f"within {int(cycle.expire_after_sessions)} sessions after it (stale or missing "
            "data; run `assistant collect`)"
        )
    return report


def decide(
    calls: ledger.Maturing,
    weights: dict[tuple[str, str], dict[str, float]],
    settings: Settings,
    day: date,
    now: str,
    ends: dict[str, date],
) -> Decision:
    """The pass, without the store: each call with a final close scored by the outcome
    rules, the others expired or left pending; the weight steps (from `weights`, those
    stored now) and the calibration counts. Column by column: a backlog is 100k calls."""
    cols = calls._asdict()
    close_all = np.array(cols["close"], dtype=float)
    has_bar = np.isfinite(close_all)
    wait = np.flatnonzero(~has_bar).tolist()
    expired = _expired(
        [cols["id"][i] for i in wait],
        [cols["symbol"][i] for i in wait],
        [cols["target_date"][i] for i in wait],
        day,
        int(settings.cycle.expire_after_sessions),
        settings.calendar.exchange,
        ends,
    )
    decision = Decision(_NO_VERDICTS, expired, len(wait) - len(expired), 0, 0, [], [])
    rows = np.flatnonzero(has_bar)
    if not len(rows):
        return decision

    def column(name: str) -> list[Any]:
        values = cols[name]
        return list(values) if len(rows) == len(calls.id) else [values[i] for i in rows.tolist()]

    def numbers(name: str) -> np.ndarray:
        return np.array(column(name), dtype=float)

    extracted = _extracted(column("extracted"), len(EXTRACT))
    x = {name: extracted[:, i] for i, name in enumerate(EXTRACT_NAMES)}
    band = np.nan_to_num(x["flat_band"], nan=0.0)
    realized, hit, decision.verdicts = _score(
        close_all[rows],
        numbers("base_price"),
        np.array(column("direction"), dtype=object),
        band,
        x["majority"],
        [numbers(c) for c in ("lower", "upper", "lower95", "upper95")],
        numbers("pred_change_pct"),
        column("id"),  # INTEGER PRIMARY KEY: ints already
        now,
    )
    decision.hits = int(np.nansum(hit))
    decision.flat = int(np.isnan(hit).sum())
    symbols = column("symbol")
    regimes = ["sideways" if r is None else r for r in column("regime")]
    tally = _tally(symbols, regimes, x, realized)
    decision.weight_changes = _weight_changes(weights, tally, settings, day)
    # Calibration learns what a call's stated hit probability is worth from the
    # call it leaned to, made or not (calls stored before `lean` existed: their own).
    lean = x["lean"]
    leaned = np.where(lean > 0, "up", np.where(lean < 0, "down", "flat"))
    lean_hit = np.where(np.isfinite(lean), outcomes.hit(leaned, realized), hit)
    decision.calibration = _calibration(
        column("model_version"), column("horizon"), x["raw_confidence"], lean_hit
    )
    return decision


def score(done: pd.DataFrame, now: str) -> tuple[np.ndarray, list[ledger.Verdict]]:
    """(realized log returns, the rows `mark_verified` stores) of matured calls in a frame
    (columns id, base_price, close, direction, flat_band, majority, pred_change_pct and
    the ranges' bounds): the scoring `decide` applies, for the hourly ledger."""
    realized, _, columns = _score(
        done["close"].to_numpy(float),
        done["base_price"].to_numpy(float),
        done["direction"].to_numpy(),
        done["flat_band"].fillna(0.0).to_numpy(float),
        done["majority"].to_numpy(float),
        [done[c].to_numpy(float) for c in ("lower", "upper", "lower95", "upper95")],
        done["pred_change_pct"].to_numpy(float),
        done["id"].astype(int).tolist(),
        now,
    )
    return realized, list(map(ledger.Verdict._make, zip(*columns, strict=True)))


def _score(
    close: np.ndarray,
    base: np.ndarray,
    direction: np.ndarray,
    band: np.ndarray,
    majority: np.ndarray,
    bounds: list[np.ndarray],
    pred_change_pct: np.ndarray,
    ids: list[int],
    now: str,
) -> tuple[np.ndarray, np.ndarray, ledger.Verdicts]:
    """The one scoring of calls against the close of their target: (realized log returns,
    hits, verdicts column by column). `bounds`: lower, upper, lower95, upper95; `band`: the FLAT band
    (0 where unknown); `majority`: NaN for calls made before it was stored."""
    realized = outcomes.realized_return(base, close)
    klass = outcomes.move_class(realized, band)
    hit = outcomes.hit(direction, realized)
    up_hit = outcomes.baseline_hit(1, realized)
    # calls made before the majority was stored count its direction as up
    majority = np.nan_to_num(majority, nan=1.0)
    majority_hit = outcomes.baseline_hit(np.where(majority < 0, -1, 1), realized)
    lower, upper, lower95, upper95 = bounds
    covered80 = _covered(lower, upper, close)
    covered95 = _covered(lower95, upper95, close)
    error = 100.0 * np.expm1(realized) - pred_change_pct
    verdicts = ledger.Verdicts(
        close.tolist(),
        error.tolist(),
        _ints(hit),
        klass.tolist(),
        _ints(up_hit),
        _ints(majority_hit),
        _ints(covered80),
        _ints(covered95),
        [now] * len(ids),
        ids,
    )
    return realized, hit, verdicts


def _extracted(texts: list[str | None], width: int) -> np.ndarray:
    """The JSON arrays of numbers `maturing` extracted, as a (calls x width) float array
    (null: NaN). SQLite writes plain numbers: read as one run of text by numpy's parser;
    anything else in them (a string, a boolean) through json, as it always was."""
    if None in texts:  # no signals to extract from (never for a stored call)
        texts = [t if t is not None else _NULLS[width] for t in texts]
    joined = ",".join(cast("list[str]", texts))
    body = joined.replace("[", "").replace("]", "").replace("null", "nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns, then stops, at text it cannot read
        try:
            flat = np.fromstring(body, dtype=float, sep=",")
            if flat.size == len(texts) * width:
                return flat.reshape(len(texts), width)
        except (ValueError, DeprecationWarning):
            pass
    return np.array(json.loads("[" + joined + "]"), dtype=float)


_NO_VERDICTS = ledger.Verdicts(*([()] * len(ledger.Verdicts._fields)))
_NULLS = {n: "[" + ",".join(["null"] * n) + "]" for n in range(2, 32)}


def _covered(lo: np.ndarray, hi: np.ndarray, close: np.ndarray) -> np.ndarray:
    """1.0 where the close fell inside the range, 0.0 outside, NaN for calls without one."""
    inside = ((close >= lo) & (close <= hi)).astype(float)
    return np.where(np.isfinite(lo) & np.isfinite(hi), inside, np.nan)


def _ints(values: np.ndarray) -> list[int | None]:
    """0/1 floats with NaN for 'none' -> SQLite integers and NULLs."""
    missing = np.isnan(values)
    out: list[int | None] = np.where(missing, 0, values).astype(np.int64).tolist()
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def _expired(
    ids: list[int],
    symbols: list[str],
    targets: list[str],
    day: date,
    after: int,
    default_exchange: str,
    ends: dict[str, date],
) -> list[int]:
    """Ids whose target session is `after` or more sessions behind `day` with no bar; never
    one whose target lies past the last session its source can bring (`ends`, per symbol):
    a bar that cannot come is not "stale or missing data", and giving up on it is no verdict."""
    out: list[int] = []
    late_by: dict[tuple[str, str], int] = {}
    for pid, sym, target in zip(ids, symbols, targets, strict=True):
        if sym in ends and session_date(target) > ends[sym]:  # the ledger's text
            continue
        key = (exchange_for(sym, default_exchange), target)
        if key not in late_by:
            late_by[key] = sessions_between(key[0], target, day)
        if late_by[key] >= after:
            out.append(int(pid))
    return out


def _tally(
    symbols: list[str], regimes: list[str], x: dict[str, np.ndarray], realized: np.ndarray
) -> list[tuple[str, str, str, int, int]]:
    """(symbol, regime, signal, right, wrong): how each vote fared (flat outcomes say
    nothing), in (symbol, regime, signal) order."""
    went = outcomes.direction(realized).astype(float)  # the hit rule: the sign of the move
    sym_code, sym_names = pd.factorize(np.array(symbols, dtype=object))
    reg_code, reg_names = pd.factorize(np.array(regimes, dtype=object))
    group = sym_code * len(reg_names) + reg_code
    groups = len(sym_names) * len(reg_names)
    out = []
    for name in (*VOTERS, "model"):
        vote = np.nan_to_num(x[f"vote_{name}"])
        used = (vote != 0) & (went != 0)
        if not used.any():
            continue
        right = np.sign(vote[used]) == went[used]
        n_right = np.bincount(group[used][right], minlength=groups)
        n_all = np.bincount(group[used], minlength=groups)
        for g in np.flatnonzero(n_all).tolist():
            s, r = divmod(g, len(reg_names))
            a, n = int(n_right[g]), int(n_all[g])
            out.append((str(sym_names[s]), str(reg_names[r]), name, a, n - a))
    return sorted(out)


def _weight_changes(
    current: dict[tuple[str, str], dict[str, float]],
    tally: list[tuple[str, str, str, int, int]],
    settings: Settings,
    day: date,
) -> list[weight_store.WeightChangeRow]:
    """Per (symbol, regime, signal): right and wrong votes -> bounded multiplicative step."""
    cycle = settings.cycle
    lo, hi, lr = (
        float(cycle.weight_min),
        float(cycle.weight_max),
        float(cycle.learning_rate),
    )
    if not tally:
        return []
    changes = []
    for sym, regime, name, right, wrong in sorted(tally):
        default = DEFAULT_MODEL_WEIGHT if name == "model" else DEFAULT_WEIGHT
        stored = current.get((sym, regime), {}).get(name)
        old = default if stored is None else stored
        # One pass moves a weight by at most a factor e^lr, however many calls matured in it:
        # the net share of right votes sets the step, so a backlog does not swing weights.
        new = min(hi, max(lo, old * math.exp(lr * (right - wrong) / (right + wrong))))
        if abs(new - old) < 1e-9:
            continue
        verb = "gains" if new > old else "loses"
        reason = (
            f"{name} {verb} weight in {regime}: right {right}, wrong {wrong} "
            f"of {right + wrong} calls verified {day} (bounds {lo:g}..{hi:g})"
        )
        changes.append(
            weight_store.WeightChangeRow(
                symbol=sym,
                regime=regime,
                signal=name,
                old_weight=stored,
                new_weight=round(new, 6),
                reason=reason,
            )
        )
    return changes


def _calibration(
    model_version: list[str], horizon: list[int], raw: np.ndarray, hit: np.ndarray
) -> list[weight_store.CalibrationRow]:
    """The calibration counts of this pass."""
    frame = pd.DataFrame(
        {
            "scope": np.where(
                np.array(model_version, dtype=object) == RULES_VERSION, "rules", "model"
            ),
            "horizon": np.array(horizon, dtype=int),
            "bucket": buckets_of(np.nan_to_num(raw)),
            "hit": hit,
            "raw": raw,
        }
    )
    frame = frame[np.isfinite(raw) & np.isfinite(hit)]  # FLAT calls have no hit to calibrate
    grouped = frame.groupby(["scope", "horizon", "bucket"]).agg(
        n=("hit", "size"), hits=("hit", "sum"), s=("raw", "sum")
    )
    return [
        weight_store.CalibrationRow(
            scope=s,
            horizon=int(h),
            bucket=int(b),
            n=int(r.n),
            hits=int(r.hits),
            stated_sum=float(r.s),
        )
        for (s, h, b), r in grouped.iterrows()
    ]
