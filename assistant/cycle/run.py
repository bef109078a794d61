"""The daily decision loop: analyze -> plan -> predict -> act; and learn (verify, drift).

run_cycle reads only bars up to as_of, asks the serving model (if any) for a forecast,
combines it with the rule signals under the current per-(symbol, regime) weights via
the pure `plan()`, turns each plan into a call on the exchange calendar (target session,
price, interval), and writes all calls and the new regime history in one transaction.
Calls are idempotent on (symbol, as_of, horizon, model_version): a second run adds
nothing. With no usable model the rule signals serve alone, and every call says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import sqlite_utils

from assistant.calendar import add_sessions, exchange_for, sessions_between
from assistant.config import Settings
from assistant.cycle import analyze as az
from assistant.cycle import ranges
from assistant.cycle.context import WorldContext, vix_values, world_context
from assistant.cycle.drift import DriftFinding, check_drift
from assistant.cycle.learn import VerifyReport, verify
from assistant.cycle.plan import Evidence, ModelView, Plan, plan
from assistant.cycle.predict import encode_signals, model_forecasts, rule_thresholds, skill_lines
from assistant.errors import AssistantError
from store import market as market_store
from store import predictions as ledger
from store import rankings as rank_store
from store import regimes as regime_store
from store import symbols as symbol_store
from store import weights as weight_store
from store.db import immediate, utcnow
from vocab.scoring import stale_sessions

__all__ = ["Call", "run_cycle", "verify", "VerifyReport", "check_drift", "DriftFinding"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    symbol: str
    as_of: str
    horizon: int
    target_date: str
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
    top_signals: list[dict[str, Any]] = field(default_factory=list)
    skill: str = ""
    note: str = ""
    new: bool = True  # False when the same call was already in the ledger
    stale_sessions: int = 0  # sessions between the newest bar and today, when stale
    context: str = ""  # what else the call saw: VIX, the next scheduled event, news
    event_within: bool | None = None  # a scheduled event on one of its h sessions (None: unknown)
    # the ranking model's relative call: rank among `rank_of` ranked symbols (1 = best) and
    # the expected move relative to their mean, in % (None: no ranking serves or too few)
    rank: int | None = None
    rank_of: int | None = None
    relative_pct: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_cycle(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    symbols: list[str] | None = None,
    *,
    as_of: str | None = None,
) -> list[Call]:
    """One cycle for the watchlist (or `symbols`) as of `as_of` (default: latest bars)."""
    horizons = [int(h) for h in settings.models.horizons]
    wanted = _symbols(db, symbols)
    day = pd.Timestamp(as_of).strftime("%Y-%m-%d") if as_of else None
    thresholds = az.regime_thresholds(settings)
    # analyze
    bars = az.load_bars(db, wanted, day)
    analyses, skipped = az.analyze_many(bars, horizons, thresholds, vix_values(db, bars))
    for sym, why in skipped.items():
        log.warning("skipping %s: %s", sym, why)
    if symbols and not analyses:
        raise AssistantError(
            f"no usable bars for {', '.join(wanted)} up to {day or 'today'}; run `assistant collect`"
        )
    # plan (model forecasts first: they are evidence)
    stamp = (
        pd.Timestamp(day)
        if day
        else max((pd.Timestamp(a.as_of) for a in analyses.values()), default=None)
    )
    forecasts, note = model_forecasts(
        db, home, {s: bars[s] for s in analyses}, stamp, horizons, day
    )
    refused = note.get("refused", "")
    relative = relative_calls(db, home, {s: bars[s] for s in analyses}, stamp, day)
    weights = weight_store.load(db, list(analyses), as_of=day)
    calibration = weight_store.load_calibration(db, as_of=day)
    range_q = ranges.multipliers(db, list(analyses), horizons, day)
    rule_gates: dict[int, float | None] = {}  # read once, and only when the rules serve
    plans: list[Plan] = []
    for sym, a in analyses.items():
        fc = forecasts.get(sym)
        for h in horizons:
            view = None
            if fc is not None and h in fc.expected_return:
                gates = fc.thresholds
                view = ModelView(
                    fc.model_version,
                    float(fc.expected_return[h]),
                    tuple(fc.probs[h]),
                    dict(getattr(fc, "skill", {}) or {}),
                    gated=gates is not None,
                    threshold=None if gates is None else gates.get(h),
                )
            scope = "rules" if view is None else "model"
            if view is None and not rule_gates:
                rule_gates = rule_thresholds(db, horizons, day)
            table = {b: (n, hits) for b, (n, hits, _) in calibration.get((scope, h), {}).items()}
            ev = Evidence(
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
                vol_sigma=a.vol[h].sigma,
                vol={
                    "model": a.vol[h].model,
                    "var": a.vol[h].variance,
                    "ewma": a.vol[h].ewma,
                    "trailing": a.vol[h].trailing,
                },
                range_q=range_q[(sym, h)],
                calibration=table,
                rules_gated=True,
                rules_threshold=rule_gates.get(h),
                note="; ".join(
                    n for n in (refused, "" if view else note.get(sym, note.get("*", ""))) if n
                ),
            )
            plans.append(plan(ev, weights.get((sym, a.regime), {})))
    # predict
    default_exchange = settings.calendar.exchange
    skills = skill_lines(db, plans, day)
    world = world_context(db, {s: a.as_of for s, a in analyses.items()}, default_exchange)
    calls = [
        _with_context(_with_rank(_call(p, default_exchange, skills), relative), world)
        for p in plans
    ]
    # act
    made_at = utcnow()
    with immediate(db):
        known = _existing(db, calls)
        ledger.insert_many(db, (_row(c, p, made_at) for c, p in zip(calls, plans, strict=True)))
        last = regime_store.last_dates(db)
        regime_store.upsert_many(
            db, [r for a in analyses.values() for r in az.regime_rows(a, last.get(a.symbol))]
        )
        market_store.save_context(db, [w.row() for w in world.values()])
        if relative is not None:
            rank_store.upsert_many(
                db,
                [
                    (sym, relative.as_of, h, relative.model_version, rank, n, rel)
                    for sym, by_h in relative.ranks.items()
                    for h, (rank, n, rel) in by_h.items()
                ],
            )
    calls = [
        _replace_new(c, (c.symbol, c.as_of, c.horizon, c.model_version) not in known) for c in calls
    ]
    if day is None:  # "latest": say so when the latest bars are not recent
        calls = _mark_stale(calls, default_exchange, pd.Timestamp.today().strftime("%Y-%m-%d"))
    return calls


def _with_context(c: Call, world: dict[str, WorldContext]) -> Call:
    w = world.get(c.symbol)
    if w is None:
        return c
    return replace(c, context=w.line(c.horizon), event_within=w.event_within(c.horizon))


def relative_calls(
    db: sqlite_utils.Database,
    home: Path,
    bars: dict[str, pd.DataFrame],
    stamp: pd.Timestamp | None,
    day: str | None,
) -> Any:
    """The ranking model's relative calls for this cycle, or None (a failure is logged:
    it never stops the cycle's own calls)."""
    from assistant.modeling import relative

    try:
        return relative.relative_calls(db, home, bars, stamp, day)
    except Exception as exc:  # the ranking is extra evidence, never a reason to fail a cycle
        log.warning("ranking failed, no relative calls this cycle: %s", exc)
        return None


def _with_rank(c: Call, relative: Any) -> Call:
    got = None if relative is None else relative.ranks.get(c.symbol, {}).get(c.horizon)
    if got is None or relative.as_of != c.as_of:
        return c
    rank, n, rel = got
    return replace(c, rank=rank, rank_of=n, relative_pct=100 * math.expm1(rel))


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


def _mark_stale(calls: list[Call], default_exchange: str, today: str) -> list[Call]:
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


def _call(p: Plan, default_exchange: str, skills: dict[tuple[str, int], str]) -> Call:
    ev = p.evidence
    target = add_sessions(exchange_for(ev.symbol, default_exchange), ev.as_of, ev.horizon)
    lo, hi = p.interval
    return Call(
        symbol=ev.symbol,
        as_of=ev.as_of,
        horizon=ev.horizon,
        target_date=target.strftime("%Y-%m-%d"),
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
    )


def _row(c: Call, p: Plan, made_at: str) -> tuple:
    return (
        c.symbol,
        c.as_of,
        c.horizon,
        c.model_version,
        made_at,
        c.target_date,
        c.base_price,
        c.change_pct,
        c.target_price,
        c.lower,
        c.upper,
        c.lower95,
        c.upper95,
        c.vol_sigma or None,
        c.p_up,
        c.p_flat,
        c.p_down,
        c.direction,
        c.confidence,
        c.regime,
        encode_signals(p),
    )


def _existing(db: sqlite_utils.Database, calls: list[Call]) -> set[tuple[str, str, int, str]]:
    return ledger.keys_made_on(db, sorted({c.as_of for c in calls}))


def _replace_new(c: Call, new: bool) -> Call:
    return c if c.new == new else replace(c, new=new)
