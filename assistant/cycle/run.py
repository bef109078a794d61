"""The daily decision loop: analyze -> plan -> predict -> act (learning from the outcomes,
verify and drift, is `assistant.cycle.learn` and `assistant.cycle.drift`).

A cycle reads, decides, then writes. `read_cycle` gathers everything it needs as of
`as_of` (bars up to it, the analyses, the serving model's forecasts, the ranking, weights,
calibration, range multipliers, rule thresholds, measured skill, world context) into a
`CycleInput`. The pure `decide` combines each forecast with the rule signals under the
current per-(symbol, regime) weights via `plan()`, and turns each plan into a call on the
exchange calendar (target session, price, interval): a `CycleWrites`. `write_cycle` writes
all calls, the new regime history, the world context, the ranks and the ranges'
checkpoints (assistant.cycle.ranges) in one transaction.
Calls are idempotent on (symbol, as_of, horizon, model_version): a second run adds
nothing. With no usable model the rule signals serve alone, and every call says so.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pandas as pd
import sqlite_utils

from assistant.calendar import add_sessions, exchange_for, sessions_between
from assistant.config import Settings
from assistant.cycle import analyze as az
from assistant.cycle import ranges
from assistant.cycle.context import WorldContext, vix_values, world_context
from assistant.cycle.plan import RULES_VERSION, Evidence, ModelView, Plan, plan
from assistant.cycle.predict import (
    LiveRecords,
    ServingNote,
    encode_signals,
    live_records,
    model_forecasts,
    rule_thresholds,
    skill_lines,
)
from assistant.errors import AssistantError
from store import market as market_store
from store import predictions as ledger
from store import range_states as range_store
from store import rankings as rank_store
from store import regimes as regime_store
from store import symbols as symbol_store
from store import weights as weight_store
from store.db import immediate, utcnow
from store.range_states import Checkpoint
from store.weights import WeightKey
from vocab.jsontypes import Json
from vocab.scoring import stale_sessions

if TYPE_CHECKING:
    from assistant.modeling.ranking import Ranks
    from assistant.modeling.serving import SymbolForecast

__all__ = ["Call", "run_cycle"]

log = logging.getLogger(__name__)

CallKey = tuple[str, date, int, str]  # (symbol, as_of, horizon, model_version)


class TopSignal(TypedDict):
    signal: str
    vote: float
    weight: float
    contribution_pct: float


@dataclass(frozen=True)
class Call:
    symbol: str
    as_of: date
    horizon: int
    target_date: date
    base_price: float
    direction: str
    change_pct: float
    target_price: float
    lower: float  # the 80% range of the target close
    upper: float
    lower95: float  # the 95% range
    upper95: float
    vol_sigma: float  # forecast std of the h-session log return behind the ranges
    p_down: float
    p_flat: float
    p_up: float
    confidence: float | None  # None for FLAT calls (no directional claim)
    regime: str
    model_version: str
    rules_only: bool
    top_signals: list[TopSignal] = field(default_factory=list)
    skill: str = ""
    note: str = ""
    new: bool = True  # False when the same call was already in the ledger
    stale_sessions: int = 0  # sessions between the newest bar and today, when stale
    context: str = ""  # what else the call saw: VIX, the next scheduled event, news
    event_within: bool | None = None  # a scheduled event on one of its h sessions (None: unknown)
    # the ranking model's rank: rank among `rank_of` ranked symbols (1 = best) and
    # the expected move relative to their mean, in % (None: no ranking serves or too few)
    rank: int | None = None
    rank_of: int | None = None
    relative_pct: float | None = None
    # the VIX the call saw: its level at as_of (or the last stored before it) and that level's
    # percentile (0..1) among the trailing year's stored levels up to as_of (None: no ^VIX)
    vix: float | None = None
    vix_pct: float | None = None

    def to_dict(self) -> dict[str, Json]:
        """The call's fields; `as_of` and `target_date` stay dates (`print_json` and the
        daemon's `jobs.plain`, the JSON writers, print them as their ISO text)."""
        return asdict(self)


@dataclass(frozen=True)
class CycleInput:
    """Everything one cycle reads, as of `day` (None: the latest bars)."""

    day: date | None
    today: date  # the calendar date the cycle runs on (how stale "latest" bars are)
    exchange: str  # the default exchange (a symbol's suffix may name another)
    horizons: list[int]
    analyses: dict[str, az.Analysis]
    forecasts: dict[str, SymbolForecast]
    note: ServingNote
    ranks: Ranks | None
    weights: dict[WeightKey, dict[str, float]]
    calibration: dict[tuple[str, int], dict[int, tuple[int, int, float]]]
    range_q: dict[tuple[str, int], tuple[float, float]]
    range_checkpoints: list[Checkpoint]  # the ranges' newer checkpoints, saved by the write
    rule_gates: dict[int, float | None]  # read only when the rules serve some call
    live: LiveRecords  # the live record of every version that may serve a call
    world: dict[str, WorldContext]


@dataclass(frozen=True)
class CycleWrites:
    """What a cycle writes: its calls (each with the plan behind it), the analyses whose
    regime history is stored, the world context, the ranks (None: no ranking) and the
    ranges' checkpoints."""

    calls: list[tuple[Call, Plan]]
    analyses: list[az.Analysis]
    context_rows: list[tuple[object, ...]]
    rank_rows: list[rank_store.RankRow] | None
    range_checkpoints: list[Checkpoint] = field(default_factory=list)


def run_cycle(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    symbols: list[str] | None = None,
    *,
    as_of: date | None = None,
) -> list[Call]:
    """One cycle for the watchlist (or `symbols`) as of `as_of` (default: latest bars)."""
    read = read_cycle(db, home, settings, symbols, as_of=as_of)
    writes = decide(read)
    known = write_cycle(db, writes)
    calls = [
        _replace_new(c, (c.symbol, c.as_of, c.horizon, c.model_version) not in known)
        for c, _ in writes.calls
    ]
    if read.day is None:  # "latest": say so when the latest bars are not recent
        calls = _mark_stale(calls, read.exchange, read.today)
    return calls


def read_cycle(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    symbols: list[str] | None = None,
    *,
    as_of: date | None = None,
) -> CycleInput:
    """Read what a cycle as of `as_of` needs (its analyses computed on the bars read)."""
    horizons = [int(h) for h in settings.models.horizons]
    wanted = _symbols(db, symbols)
    day = as_of
    thresholds = az.regime_thresholds(settings)
    bars = az.load_bars(db, wanted, day)
    analyses, skipped = az.analyze_many(bars, horizons, thresholds, vix_values(db, bars))
    for sym, why in skipped.items():
        log.warning("skipping %s: %s", sym, why)
    if symbols and not analyses:
        raise AssistantError(
            f"no usable bars for {', '.join(wanted)} up to {day or 'today'}; run `assistant collect`"
        )
    # model forecasts first: they are evidence
    stamp = (
        pd.Timestamp(day)
        if day
        else max((pd.Timestamp(a.as_of) for a in analyses.values()), default=None)
    )
    used = {s: bars[s] for s in analyses}
    forecasts, note = model_forecasts(db, home, used, stamp, horizons, day)
    ranks = ranks_as_of(db, home, settings, used, stamp, day)
    served = {
        (sym, h): forecasts[sym].model_version
        for sym in analyses
        if sym in forecasts
        for h in horizons
        if h in forecasts[sym].expected_return
    }
    rules_serve = len(served) < len(analyses) * len(horizons)
    versions = sorted(set(served.values()) | ({RULES_VERSION} if rules_serve else set()))
    range_state = ranges.read(db, list(analyses), horizons, day)
    return CycleInput(
        day=day,
        today=date.today(),
        exchange=settings.calendar.exchange,
        horizons=horizons,
        analyses=analyses,
        forecasts=forecasts,
        note=note,
        ranks=ranks,
        weights=weight_store.load(db, list(analyses), as_of=day),
        calibration=weight_store.load_calibration(db, as_of=day),
        range_q=range_state.q,
        range_checkpoints=range_state.checkpoints,
        rule_gates=rule_thresholds(db, horizons, day) if rules_serve else {},
        live=live_records(db, versions, sorted(analyses), day),
        world=world_context(
            db,
            {s: a.as_of for s, a in analyses.items()},
            settings.calendar.exchange,
            settings.events.fomc,
        ),
    )


def decide(read: CycleInput) -> CycleWrites:
    """The cycle's calls and what it stores, from what it read (pure)."""
    plans = [
        plan(_evidence(read, sym, a, h), read.weights.get((sym, a.regime), {}))
        for sym, a in read.analyses.items()
        for h in read.horizons
    ]
    skills = skill_lines(read.live, plans)
    targets: dict[tuple[str, date, int], date] = {}  # one calendar look-up per exchange's day
    calls = [(_call(p, read.exchange, skills, read.ranks, read.world, targets), p) for p in plans]
    ranks = read.ranks
    return CycleWrites(
        calls=calls,
        analyses=list(read.analyses.values()),
        context_rows=[w.row() for w in read.world.values()],
        rank_rows=None
        if ranks is None
        else [
            rank_store.RankRow(
                symbol=sym,
                as_of=ranks.as_of,
                horizon=h,
                model_version=ranks.model_version,
                rank=rank,
                of=n,
                relative=rel,
            )
            for sym, by_h in ranks.by_symbol.items()
            for h, (rank, n, rel) in by_h.items()
        ],
        range_checkpoints=read.range_checkpoints,
    )


def write_cycle(db: sqlite_utils.Database, writes: CycleWrites) -> set[CallKey]:
    """Write a cycle in one transaction; the keys of its calls the ledger already had."""
    made_at = utcnow()
    with immediate(db):
        known = ledger.keys_made_on(db, sorted({c.as_of for c, _ in writes.calls}))
        # a call already in the ledger is left as it was (INSERT OR IGNORE): its row is not
        # even built (a cycle run again on the same day rebuilds none of its 1,500)
        ledger.insert_many(
            db,
            (
                _row(c, p, made_at)
                for c, p in writes.calls
                if (c.symbol, c.as_of, c.horizon, c.model_version) not in known
            ),
        )
        last = regime_store.last_dates(db)
        regime_store.upsert_many(
            db, [r for a in writes.analyses for r in az.regime_rows(a, last.get(a.symbol))]
        )
        market_store.save_context(db, writes.context_rows)
        if writes.rank_rows is not None:
            rank_store.upsert_many(db, writes.rank_rows)
        range_store.save(db, writes.range_checkpoints)
    return known


def _evidence(read: CycleInput, sym: str, a: az.Analysis, h: int) -> Evidence:
    """What the plan of `sym` at horizon `h` weighs: the analysis, the model's view (if
    one serves it), the range multipliers and the calibration of its pool."""
    fc = read.forecasts.get(sym)
    view = None
    if fc is not None and h in fc.expected_return:
        gates = fc.thresholds
        down, flat, up = fc.probs[h]
        view = ModelView(
            fc.model_version,
            float(fc.expected_return[h]),
            (down, flat, up),
            dict(getattr(fc, "skill", {}) or {}),
            gated=gates is not None,
            threshold=None if gates is None else gates.get(h),
        )
    scope = "rules" if view is None else "model"
    table = {b: (n, hits) for b, (n, hits, _) in read.calibration.get((scope, h), {}).items()}
    refused = read.note.refused
    return Evidence(
        symbol=sym,
        as_of=a.as_of,
        horizon=h,
        base_price=a.base_price,
        sigma=a.sigma[h],
        regime=a.regime,
        votes=a.votes,
        model=view,
        drift=a.drift[h],
        last_move=a.last_move[h],
        majority=a.majority[h],
        baseline_rate=a.baseline_rate[h],
        flat_band=a.flat_band[h],
        vol_sigma=a.vol[h].range_sigma,
        vol={
            "model": a.vol[h].model,
            "var": a.vol[h].variance,
            "ewma": a.vol[h].ewma,
            "trailing": a.vol[h].trailing,
        },
        range_q=read.range_q[(sym, h)],
        calibration=table,
        rules_gated=True,
        rules_threshold=read.rule_gates.get(h),
        note="; ".join(n for n in (refused, "" if view else read.note.for_symbol(sym)) if n),
    )


def ranks_as_of(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    bars: dict[str, pd.DataFrame],
    stamp: pd.Timestamp | None,
    day: date | None,
) -> Ranks | None:
    """The ranking model's ranks of the symbols of `bars` for this cycle, ranked among its
    universe, or None (a failure is logged: it never stops the cycle's own calls)."""
    from assistant.modeling import ranking

    if stamp is None:
        return None
    try:
        end = stamp.date()
        start = (stamp - pd.Timedelta(days=az.LOOKBACK_DAYS)).date()
        universe = ranking.universe_bars(db, settings, bars, end, start)
        return ranking.ranks_as_of(db, home, universe, stamp, day, watched=set(bars))
    except Exception as exc:  # the ranking is extra evidence, never a reason to fail a cycle
        log.warning("ranking failed, no ranks this cycle: %s", exc)
        return None


def _abstain_note(p: Plan) -> str:
    if p.below_baseline:
        return (
            f"no edge: its calibrated hit probability {100 * p.lean_confidence:.0f}% is below "
            f"the stronger baseline's hit rate {100 * p.evidence.baseline_rate:.0f}%"
        )
    if not p.abstained:
        return ""
    if p.evidence.model is None:
        t = p.evidence.rules_threshold
        if t is None:
            return "no edge: the rules' own verified calls have not beaten the stronger baseline"
        return f"no edge: evidence below the threshold {t:.3f} chosen on the rules' own past"
    t = p.evidence.model.threshold
    if t is None:
        return "no edge: on validation this model's calls never beat the stronger baseline"
    return f"no edge: evidence below the threshold {t:.3f} chosen on validation"


def _mark_stale(calls: list[Call], default_exchange: str, today: date) -> list[Call]:
    """Calls whose newest bar is more than STALE_AFTER_SESSIONS sessions before today carry
    how old it is, so nobody mistakes a call as of years ago for a current one."""
    age: dict[str, int] = {}
    out = []
    for c in calls:
        if c.symbol not in age:
            n = sessions_between(exchange_for(c.symbol, default_exchange), c.as_of, today)
            age[c.symbol] = stale_sessions(n)
        out.append(replace(c, stale_sessions=age[c.symbol]) if age[c.symbol] else c)
    return out


def _symbols(db: sqlite_utils.Database, symbols: list[str] | None) -> list[str]:
    if not symbols:
        return symbol_store.active_symbols(db)
    return list(dict.fromkeys(symbol_store.validate_symbol(s) for s in symbols))


def _call(
    p: Plan,
    default_exchange: str,
    skills: dict[tuple[str, int], str],
    ranks: Ranks | None = None,
    world: dict[str, WorldContext] | None = None,
    targets: dict[tuple[str, date, int], date] | None = None,
) -> Call:
    """The call of plan `p`, with its rank among the ranked symbols (where `ranks` ranks it
    as of its own session) and what else it saw (where `world` has its symbol), made in
    one construction (a cycle makes 1,500). `targets`: the target dates already found, by
    (exchange, as_of, horizon), filled as they are found."""
    ev = p.evidence
    key = (exchange_for(ev.symbol, default_exchange), ev.as_of, ev.horizon)
    target = None if targets is None else targets.get(key)
    if target is None:
        target = add_sessions(*key).date()
        if targets is not None:
            targets[key] = target
    lo, hi = p.interval
    rank = rank_of = None
    relative_pct = None
    got = None if ranks is None else ranks.by_symbol.get(ev.symbol, {}).get(ev.horizon)
    if got is not None and ranks is not None and ranks.as_of == ev.as_of:
        rank, rank_of, rel = got
        relative_pct = 100 * math.expm1(rel)
    w = None if world is None else world.get(ev.symbol)
    return Call(
        symbol=ev.symbol,
        as_of=ev.as_of,
        horizon=ev.horizon,
        target_date=target,
        base_price=ev.base_price,
        direction=p.direction,
        change_pct=p.change_pct,
        target_price=ev.base_price * math.exp(p.expected_return),
        lower=ev.base_price * math.exp(lo),
        upper=ev.base_price * math.exp(hi),
        lower95=ev.base_price * math.exp(p.interval95[0]),
        upper95=ev.base_price * math.exp(p.interval95[1]),
        vol_sigma=ev.vol_sigma,
        p_down=p.probs[0],
        p_flat=p.probs[1],
        p_up=p.probs[2],
        confidence=p.confidence,
        regime=ev.regime,
        model_version=p.model_version,
        rules_only=p.rules_only,
        top_signals=[
            {
                "signal": c.name,
                "vote": c.vote,
                "weight": c.weight,
                "contribution_pct": 100 * c.contribution,
            }
            for c in p.top(3)
        ],
        skill=skills.get((ev.symbol, ev.horizon), ""),
        note="; ".join(n for n in (_abstain_note(p), ev.note) if n),
        context="" if w is None else w.line(ev.horizon),
        event_within=None if w is None else w.event_within(ev.horizon),
        rank=rank,
        rank_of=rank_of,
        relative_pct=relative_pct,
        vix=None if w is None else w.vix,
        vix_pct=None if w is None else w.vix_pct,
    )


def _row(c: Call, p: Plan, made_at: str) -> ledger.CallRow:
    return ledger.CallRow(
        symbol=c.symbol,
        as_of=c.as_of,
        horizon=c.horizon,
        model_version=c.model_version,
        made_at=made_at,
        target_date=c.target_date,
        base_price=c.base_price,
        pred_change_pct=c.change_pct,
        pred_price=c.target_price,
        lower=c.lower,
        upper=c.upper,
        lower95=c.lower95,
        upper95=c.upper95,
        vol_sigma=c.vol_sigma or None,
        p_up=c.p_up,
        p_flat=c.p_flat,
        p_down=c.p_down,
        direction=c.direction,
        confidence=c.confidence,
        regime=c.regime,
        signals=encode_signals(p),
    )


def _replace_new(c: Call, new: bool) -> Call:
    """`replace(c, new=new)` without running the 30 fields through `__init__` again (a
    cycle's calls are all new, or all known on a second run; no field is derived)."""
    if c.new == new:
        return c
    out = copy.copy(c)
    object.__setattr__(out, "new", new)
    return out
