"""The symbol screen: one symbol's closes, its calls with their outcomes, the latest
call's signals, what the call saw (market context, news) and its hit rate, regime, rank
and live quote as on the watchlist; up to a replay's clock, where the dashboard stops."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import NotRequired, TypedDict

import sqlite_utils

from store import daemon_state, market, news, quotes
from store.market import CallContext
from store.news import Headline
from store.quotes import LiveQuote
from store.rankings import Ranking
from store.views.calls import HIT_WINDOW, SCORED_SQL, LatestCall, baseline, hit_stats
from store.views.read import MAX_DATE, rows, snapshot
from store.views.regimes import RegimeLine, regime_state
from store.views.watchlist import ranked_now
from vocab.dates import session_date
from vocab.scoring import Baseline


class HistoryCall(LatestCall):
    """A call in the symbol's history, with its outcome once verified."""

    target_date: str
    base_price: float
    pred_price: float
    regime: str | None
    actual_price: float | None
    error_pct: float | None
    hit: int | None
    up_hit: int | None
    majority_hit: int | None
    signals: object  # the call's signals JSON, parsed (see signal_contributions)
    lower95: float | None
    upper95: float | None
    covered80: int | None
    covered95: int | None


class Bar(TypedDict):
    """A session's close, as the price chart plots it."""

    date: str
    close: float


class SymbolDetail(TypedDict):
    """One symbol's screen: closes, calls with outcomes, the latest call's signals, news."""

    symbol: str
    context: CallContext | None  # what the latest call saw (the screen says it in a line)
    news: list[Headline]
    news_days: int
    news_needed_days: int
    bars: list[Bar]
    history: list[HistoryCall]
    signals: list[tuple[str, float]]
    latest: HistoryCall | None
    n: int
    hit_rate: float | None
    baseline: float | None
    baseline_name: Baseline  # which baseline `baseline` is
    regime: RegimeLine | None  # the regime now (as of the detail's session)
    ranking: Ranking | None  # the ranking model's newest call at the latest call's horizon
    n80: int  # verified calls with an 80% range behind coverage80 (as on the watchlist)
    coverage80: float | None
    live: NotRequired[LiveQuote | None]  # the latest quote, as on the watchlist


def _json(text: object) -> object:
    try:
        return json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}


def replay_clock(db: sqlite_utils.Database) -> str | None:
    """The session a replay has reached (None when not replaying, or before its first)."""
    row = daemon_state.read(db)
    return row["sim_date"] if row and row["mode"] == "replay" else None


def symbol_detail(
    db: sqlite_utils.Database,
    symbol: str,
    *,
    bars_limit: int = 120,
    history_limit: int = 200,
    as_of: date | None = None,
    now: datetime | None = None,
) -> SymbolDetail:
    """Price history, predictions (with outcomes) and the latest call's signals for one symbol,
    up to `as_of`; by default up to a replay's clock, where the dashboard stops too."""
    with snapshot(db):
        if as_of is None:
            clock = replay_clock(db)
            as_of = session_date(clock) if clock else None
        until = as_of.isoformat() if as_of else MAX_DATE
        bars = db.execute(
            "SELECT date, close FROM bars WHERE symbol = ? AND date <= ? "
            "ORDER BY date DESC LIMIT ?",
            [symbol, until, bars_limit],
        ).fetchall()[::-1]
        history = rows(
            db,
            HistoryCall,
            "SELECT id, as_of, horizon, target_date, base_price, pred_change_pct, "
            "pred_price, direction, confidence, regime, model_version, status, "
            f"actual_price, error_pct, {SCORED_SQL}, signals, lower, upper, lower95, upper95, "
            "covered80, covered95 FROM predictions WHERE symbol = ? AND as_of <= ? "
            "ORDER BY as_of DESC, horizon ASC, id DESC LIMIT ?",
            [symbol, until, history_limit],
        )
        for h in history:
            h["signals"] = _json(h["signals"])
        latest = history[0] if history else None
        verified = [
            (h["hit"], h["up_hit"], h["majority_hit"]) for h in history if h["status"] == "verified"
        ]
        n, hits, ups, majs = hit_stats(verified)
        base, name = baseline(n, ups, majs)
        # the 80% range's realized coverage over the watchlist's window, and the rank
        ranged = [h["covered80"] for h in history if h["covered80"] is not None][:HIT_WINDOW]
        active = [s for (s,) in db.execute("SELECT symbol FROM symbols WHERE active = 1")]
        ranks = ranked_now(db, active, as_of).get(symbol, {})
        horizon = latest["horizon"] if latest else min(ranks, default=None)
        # the latest call's, in a replay
        seen = session_date(latest["as_of"]) if as_of and latest else None
        context = market.context_of(db, [symbol], seen).get(symbol)
        ref = quotes.reference_time(db, as_of is not None, now or datetime.now(UTC))
        live = quotes.read_all(db, ref, {symbol: bars[-1][0] if bars else None}).get(symbol)
        return {
            "symbol": symbol,
            "context": context,
            "news": news.recent(db, symbol, 8),
            "news_days": news.history_days(db, symbol),
            "news_needed_days": news.MIN_HISTORY_DAYS,
            "bars": [{"date": d, "close": c} for d, c in bars],
            "history": history,
            "signals": signal_contributions(latest["signals"]) if latest else [],
            "latest": latest,
            "n": n,
            "hit_rate": hits / n if n else None,
            "baseline": base,
            "baseline_name": name,
            "regime": regime_state(db, symbol, as_of=as_of),
            "ranking": ranks.get(horizon) if horizon is not None else None,
            "n80": len(ranged),
            "coverage80": sum(ranged) / len(ranged) if ranged else None,
            "live": live,
        }


def signal_contributions(signals: object) -> list[tuple[str, float]]:
    """(name, contribution) pairs from a prediction's signals JSON, largest first.

    Accepts {name: number} or {name: {"contribution": x}} / {name: {"vote": v, "weight": w}};
    nested containers like {"signals": {...}} or {"contributions": {...}} are unwrapped.
    """
    if isinstance(signals, dict):
        for wrapper in ("contributions", "signals"):
            if isinstance(signals.get(wrapper), dict):
                signals = signals[wrapper]
                break
    out = []
    for name, value in signals.items() if isinstance(signals, dict) else []:
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append((str(name), float(value)))
        elif isinstance(value, dict):
            if isinstance(value.get("contribution"), int | float):
                out.append((str(name), float(value["contribution"])))
            elif isinstance(value.get("vote"), int | float):
                out.append(
                    (str(name), float(value["vote"]) * float(value.get("weight", 1.0) or 0.0))
                )
    return sorted(out, key=lambda kv: -abs(kv[1]))
