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

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TypedDict

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
    as_of: str
    verified: int = 0
    hits: int = 0
    expired: int = 0
    flat: int = 0  # FLAT calls scored: no directional claim, no hit
    pending: int = 0  # matured by date but without a final bar yet
    expired_why: str = ""  # why the expired calls were given up on
    weight_changes: list[WeightChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Json]:
        return asdict(self)


def verify(
    db: sqlite_utils.Database, settings: Settings, *, as_of: str | None = None
) -> VerifyReport:
    """Score every matured prediction as of `as_of` (default: today)."""
    day = pd.Timestamp(as_of or pd.Timestamp.today()).strftime("%Y-%m-%d")
    cycle = settings.cycle
    default_exchange = settings.calendar.exchange
    report = VerifyReport(as_of=day)
    now = utcnow()
    with immediate(db):
        rows = ledger.maturing(db, day, EXTRACT)
        if not rows:
            return report
        frame = pd.DataFrame([r[:-1] for r in rows], columns=list(ledger.MATURING_COLUMNS))
        # one json.loads over all the small arrays beats 100k separate decodes
        extracted = np.array(json.loads("[" + ",".join(r[-1] for r in rows) + "]"), dtype=float)
        for i, name in enumerate(EXTRACT_NAMES):
            frame[name] = extracted[:, i]
        done = frame[frame["close"].notna()]
        waiting = frame[frame["close"].isna()]
        expired_ids = _expired(
            waiting,
            day,
            int(cycle.expire_after_sessions),
            default_exchange,
            source_ends(settings),
        )
        report.expired = len(expired_ids)
        report.pending = len(waiting) - len(expired_ids)
        if len(done):
            realized, scored = score(done, now)
            hit = outcomes.hit(done["direction"].to_numpy(), realized)
            ledger.mark_verified(db, scored)
            report.verified = len(done)
            report.hits = int(np.nansum(hit))
            report.flat = int(np.isnan(hit).sum())
            changes = _weight_changes(db, _tally(done, realized), settings, day)
            weight_store.apply(db, changes, now, day)
            report.weight_changes = [
                WeightChange(symbol=sym, regime=regime, signal=name, old=old, new=new, reason=why)
                for sym, regime, name, old, new, why in changes
            ]
            # Calibration learns what a call's stated hit probability is worth from the
            # call it leaned to, made or not (calls stored before `lean` existed: their own).
            lean = done["lean"].to_numpy(float)
            leaned = np.where(lean > 0, "up", np.where(lean < 0, "down", "flat"))
            lean_hit = np.where(np.isfinite(lean), outcomes.hit(leaned, realized), hit)
            weight_store.add_calibration(db, _calibration(done, lean_hit), day)
        ledger.mark_expired(db, expired_ids, now)
    if report.expired:
        report.expired_why = (
            f"{report.expired} call(s) expired: no final bar of the target session was stored "
            f"within {int(cycle.expire_after_sessions)} sessions after it (stale or missing "
            "data; run `assistant collect`)"
        )
    return report


def score(done: pd.DataFrame, now: str) -> tuple[np.ndarray, list[tuple]]:
    """(realized log returns, the rows `mark_verified` stores) of matured calls: the one
    scoring of a call against the close of its target (columns id, base_price, close,
    direction, flat_band, majority, pred_change_pct and the ranges' bounds). The hourly
    ledger is scored by this same function."""
    band = done["flat_band"].fillna(0.0).to_numpy(float)
    close = done["close"].to_numpy(float)
    base = done["base_price"].to_numpy(float)
    realized = outcomes.realized_return(base, close)
    klass = outcomes.move_class(realized, band)
    hit = outcomes.hit(done["direction"].to_numpy(), realized)
    up_hit = outcomes.baseline_hit(1, realized)
    # calls made before the majority was stored count its direction as up
    majority = np.nan_to_num(done["majority"].to_numpy(float), nan=1.0)
    majority_hit = outcomes.baseline_hit(np.where(majority < 0, -1, 1), realized)
    covered80 = _covered(done["lower"], done["upper"], close)
    covered95 = _covered(done["lower95"], done["upper95"], close)
    error = 100.0 * np.expm1(realized) - done["pred_change_pct"].to_numpy(float)
    rows = list(
        zip(
            close.tolist(),
            error.tolist(),
            _ints(hit),
            klass.tolist(),
            _ints(up_hit),
            _ints(majority_hit),
            _ints(covered80),
            _ints(covered95),
            [now] * len(done),
            done["id"].astype(int).tolist(),
            strict=True,
        )
    )
    return realized, rows


def _covered(lower: pd.Series, upper: pd.Series, close: np.ndarray) -> np.ndarray:
    """1.0 where the close fell inside the range, 0.0 outside, NaN for calls without one."""
    lo, hi = lower.to_numpy(float), upper.to_numpy(float)
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
    waiting: pd.DataFrame, day: str, after: int, default_exchange: str, ends: dict[str, str]
) -> list[int]:
    """Ids whose target session is `after` or more sessions behind `day` with no bar; never
    one whose target lies past the last session its source can bring (`ends`, per symbol):
    a bar that cannot come is not "stale or missing data", and giving up on it is no verdict."""
    if waiting.empty:
        return []
    out: list[int] = []
    late_by: dict[tuple[str, str], int] = {}
    for pid, sym, target in zip(
        waiting["id"], waiting["symbol"], waiting["target_date"], strict=True
    ):
        if sym in ends and target > ends[sym]:
            continue
        key = (exchange_for(sym, default_exchange), target)
        if key not in late_by:
            late_by[key] = sessions_between(key[0], target, day)
        if late_by[key] >= after:
            out.append(int(pid))
    return out


def _tally(done: pd.DataFrame, realized: np.ndarray) -> list[tuple[str, str, str, int, int]]:
    """(symbol, regime, signal, right, wrong): how each vote fared (flat outcomes say nothing)."""
    went = outcomes.direction(realized).astype(float)  # the hit rule: the sign of the move
    regime = done["regime"].fillna("sideways").to_numpy()
    parts = []
    for name in (*VOTERS, "model"):
        vote = np.nan_to_num(done[f"vote_{name}"].to_numpy(float))
        used = (vote != 0) & (went != 0)
        if used.any():
            right = (np.sign(vote[used]) == went[used]).astype(int)
            parts.append(
                pd.DataFrame(
                    {
                        "symbol": done["symbol"].to_numpy()[used],
                        "regime": regime[used],
                        "signal": name,
                        "right": right,
                        "wrong": 1 - right,
                    }
                )
            )
    if not parts:
        return []
    sums = (
        pd.concat(parts)
        .groupby(["symbol", "regime", "signal"], sort=True)[["right", "wrong"]]
        .sum()
    )
    return [
        (str(s), str(r), str(g), int(a), int(b))
        for (s, r, g), a, b in zip(
            sums.index.tolist(), sums["right"].tolist(), sums["wrong"].tolist(), strict=True
        )
    ]


def _weight_changes(
    db: sqlite_utils.Database,
    tally: list[tuple[str, str, str, int, int]],
    settings: Settings,
    day: str,
) -> list[tuple[str, str, str, float | None, float, str]]:
    """Per (symbol, regime, signal): right and wrong votes -> bounded multiplicative step."""
    cycle = settings.cycle
    lo, hi, lr = (
        float(cycle.weight_min),
        float(cycle.weight_max),
        float(cycle.learning_rate),
    )
    if not tally:
        return []
    current = weight_store.load(db, sorted({k[0] for k in tally}))
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
        changes.append((sym, regime, name, stored, round(new, 6), reason))
    return changes


def _calibration(done: pd.DataFrame, hit: np.ndarray) -> list[tuple]:
    """(scope, horizon, bucket, n, hits, stated_sum) for this pass."""
    raw = done["raw_confidence"].astype(float).to_numpy()
    frame = pd.DataFrame(
        {
            "scope": np.where(done["model_version"].to_numpy() == RULES_VERSION, "rules", "model"),
            "horizon": done["horizon"].to_numpy(int),
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
        (s, int(h), int(b), int(r.n), int(r.hits), float(r.s))
        for (s, h, b), r in grouped.iterrows()
    ]
