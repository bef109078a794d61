"""Bring the watchlist's bars up to date from a source, one short transaction per symbol.

For each symbol: work out the last closed session it should have; if the store already
has it (as a final bar), nothing is fetched. Otherwise fetch from `refetch_sessions`
sessions before the last final bar (a new symbol: `history_years` back), validate, and
upsert. Temporary failures (rate limit, timeout) write no bars and are retried next
run; "no data" is counted, and a symbol is deactivated after `deactivate_after_empty`
empty answers in a row for ranges that held trading sessions. `until` caps what is
revealed (replay mode): no bar after it is ever written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import sqlite_utils

from assistant import calendar
from assistant.config import SOURCES, Settings
from assistant.errors import AssistantError, NoDataError, TemporaryError
from assistant.ingest import restate
from assistant.ingest.sources.base import Batched, Covered, Source
from store import bars
from store import db as store_db
from store import symbols as store_symbols
from store.db import cannot_write, file_of, immediate
from vocab.dates import session_date

if TYPE_CHECKING:
    from assistant.ingest.hourly import HourlyResult


@dataclass
class CollectResult:
    symbol: str
    status: str  # added | current | failed | no-data | deactivated (taken off earlier: why)
    added: int = 0
    updated: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass
class _Plan:
    symbol: str
    exchange: str
    start: pd.Timestamp
    end: pd.Timestamp
    last_final: date | None


def home_of(db: sqlite_utils.Database) -> Path | None:
    """The data home a connection belongs to (the database file's folder)."""
    file = store_db.file_of(db)
    return None if file is None else file.parent


def source_ends(settings: Settings) -> dict[str, date]:
    """Per symbol, the last session the configured source can ever bring: the offline sample
    ends on 2013-03-01, so a call on its symbols that targets a later session can never be
    verified by collecting (only an import could bring its bar). Empty for the sources that
    keep bringing new bars."""
    if settings.collect.source != "sample":
        return {}
    from assistant.ingest.sources.sample import SERIES, SPAN

    return dict.fromkeys(SERIES, SPAN[1].date())


def make_source(settings: Settings, name: str | None = None, *, home: Path | None = None) -> Source:
    """Build a source by name (default: the configured `collect.source`)."""
    cfg = settings.collect
    name = name or cfg.source
    jump = float(cfg.jump_threshold)
    if name == "sample":
        from assistant.ingest.sources.sample import SampleSource

        return SampleSource(jump_threshold=jump)
    if name == "yahoo":
        from assistant.config import default_home
        from assistant.ingest.sources.yahoo import YahooSource

        return YahooSource(
            home or default_home(),
            jump_threshold=jump,
            default_exchange=settings.calendar.exchange,
        )
    if name == "csv":
        from assistant.ingest.sources.csv import CsvSource

        folder = Path(str(cfg.csv_dir)).expanduser() if cfg.csv_dir else None
        if folder is None or not folder.is_dir():
            raise AssistantError(
                f"the csv source needs collect.csv_dir set to a folder (now: {cfg.csv_dir!r})"
            )
        return CsvSource(folder, jump_threshold=jump, exchange=settings.calendar.exchange)
    if name == "synthetic":
        from assistant.ingest.sources.synthetic import SyntheticSource

        return SyntheticSource()
    raise AssistantError(f"unknown source {name!r} (known: {', '.join(SOURCES)})")


def _last_closed_session(
    exchange: str, end: pd.Timestamp, live: bool, now: pd.Timestamp
) -> pd.Timestamp | None:
    recent = calendar.sessions(exchange, end - pd.Timedelta(days=14), end)
    if live and len(recent) and not calendar.session_closed(exchange, recent[-1], now):
        recent = recent[:-1]
    return recent[-1] if len(recent) else None


def _plan(
    db: sqlite_utils.Database,
    source: Source,
    symbol: str,
    settings: Settings,
    until: date | None,
    now: pd.Timestamp,
) -> _Plan | CollectResult:
    cfg = settings.collect
    exchange = calendar.exchange_for(symbol, settings.calendar.exchange)
    end = pd.Timestamp(until).normalize() if until else calendar.local_today(exchange, now)
    first_available = None
    if isinstance(source, Covered):
        first_available, last_available = source.coverage(symbol)
        end = min(end, last_available)
        if end < first_available:
            return CollectResult(
                symbol,
                "no-data",
                message=f"{source.name} has no {symbol} bars before {first_available:%Y-%m-%d}",
            )
    # A bar from the future (imported before such bars were refused) must not make the
    # symbol look current for good: only bars up to the latest possible session count.
    latest = calendar.latest_session(exchange, now).date()
    stored = bars.last_date(db, symbol, final_only=True, end=latest)
    last_final = None if stored is None else session_date(stored)
    target = _last_closed_session(exchange, end, until is None, now)
    if last_final and (target is None or last_final >= target.date()):
        return CollectResult(symbol, "current", message=f"already current (last bar {last_final})")
    if last_final:
        n = max(int(cfg.refetch_sessions), 1)
        day = pd.Timestamp(last_final)
        back = calendar.sessions(exchange, day - pd.Timedelta(days=n * 3 + 14), day)
        start = back[-n] if len(back) >= n else day
    else:
        start = end - pd.DateOffset(years=int(cfg.history_years))
        if first_available is not None:
            start = max(start, first_available)
    return _Plan(symbol, exchange, pd.Timestamp(start), end, last_final)


def _adjustment_changed(db: sqlite_utils.Database, plan: _Plan, frame: pd.DataFrame) -> bool:
    """A split or dividend since the last run re-scales every earlier adjusted price."""
    if not plan.last_final:
        return False
    stored = bars.load(db, plan.symbol, start=frame.index[0].date(), end=plan.last_final)
    stored = stored[stored["provisional"] == 0]
    both = stored.index.intersection(frame.index)
    if both.empty:
        return False
    ratio = frame.loc[both, "close"].to_numpy() / stored.loc[both, "close"].to_numpy()
    return bool((abs(ratio - 1.0) > 1e-4).any())


def _fetch_one(
    db: sqlite_utils.Database,
    source: Source,
    plan: _Plan,
    prefetched: pd.DataFrame | Exception | None,
) -> CollectResult:
    if isinstance(prefetched, Exception):
        raise prefetched
    frame = (
        prefetched if prefetched is not None else source.history(plan.symbol, plan.start, plan.end)
    )
    frame = frame.loc[plan.start : plan.end]  # never reveal a bar after `until`
    if frame.empty:
        raise NoDataError(
            f"{source.name} returned no bars from {plan.start:%Y-%m-%d} to {plan.end:%Y-%m-%d}"
        )
    note = ""
    if _adjustment_changed(db, plan, frame):
        first = bars.load(db, plan.symbol).index[0]
        frame = source.history(plan.symbol, first, plan.end).loc[first : plan.end]
        note = f"; prices re-adjusted (split or dividend), re-fetched from {first:%Y-%m-%d}"
    with immediate(db):  # pending calls and paper holdings move with a re-adjusted history
        restated = restate.upsert(db, plan.symbol, frame, source.name)
    result = restated.written
    note += restated.note(plan.symbol)
    store_symbols.record_collection(db, plan.symbol, error=None, empty=False)
    span = f"{frame.index[0]:%Y-%m-%d} … {frame.index[-1]:%Y-%m-%d}"
    provisional = int(frame["provisional"].sum())
    extra = f", {provisional} provisional (session still open)" if provisional else ""
    if result.added:
        msg = f"{result.added} rows added, {result.updated} updated ({span}){extra}{note}"
        return CollectResult(plan.symbol, "added", result.added, result.updated, msg)
    msg = f"already current (last bar {frame.index[-1]:%Y-%m-%d}; {result.updated} updated){extra}{note}"
    return CollectResult(plan.symbol, "current", 0, result.updated, msg)


def _symbols_to_collect(db: sqlite_utils.Database, symbols: list[str] | None) -> list[str]:
    if not symbols:
        return store_symbols.active_symbols(db)
    clean = list(dict.fromkeys(store_symbols.validate_symbol(s) for s in symbols))
    unknown = [s for s in clean if store_symbols.get(db, s) is None]
    if unknown:
        raise AssistantError(
            f"not on the watchlist: {', '.join(unknown)} (add with `assistant watch add {unknown[0]}`)"
        )
    return clean


def collect(
    db: sqlite_utils.Database,
    settings: Settings,
    symbols: list[str] | None = None,
    *,
    source: Source | str | None = None,
    until: date | None = None,
    progress: Callable[[float, str], None] | None = None,
    hourly: list[HourlyResult] | None = None,
) -> list[CollectResult]:
    """Collect bars for `symbols` (default: the active watchlist); one result per symbol.

    `hourly`: a list to receive the one-hour bars' results (`ingest.hourly`), collected
    after the daily bars from the same source when `collect.hourly` is on.

    `source`: a source object or a name; default the configured one (symbols imported
    from CSV are then left alone unless `collect.csv_dir` is set). Collecting the whole
    watchlist also lists the symbols taken off it earlier (status `deactivated`, with why).
    """
    syms = _symbols_to_collect(db, symbols)
    explicit = source is not None
    if source is None or isinstance(source, str):
        source = make_source(settings, source, home=home_of(db))
    csv_source = None
    now = pd.Timestamp.now(tz="UTC")
    results: dict[str, CollectResult] = {}
    plans: list[tuple[_Plan, Source]] = []
    for sym in syms:
        src = source
        if (
            not explicit
            and (known := store_symbols.get(db, sym)) is not None
            and known["source"] == "csv"
        ):
            if not settings.collect.csv_dir:
                results[sym] = CollectResult(
                    sym, "current", message="imported from CSV; nothing to collect"
                )
                continue
            csv_source = csv_source or make_source(settings, "csv")
            src = csv_source
        try:
            plan = _plan(db, src, sym, settings, until, now)
        except NoDataError as exc:
            results[sym] = CollectResult(sym, "no-data", message=str(exc))
            _count_empty(db, settings, sym, str(exc), results)
            continue
        if isinstance(plan, CollectResult):
            store_symbols.record_collection(db, sym, error=None, empty=False)
            results[sym] = plan
        else:
            plans.append((plan, src))
    prefetched = _prefetch(source, [p for p, s in plans if s is source])
    for i, (plan, src) in enumerate(plans):
        if progress:
            progress(i / max(len(plans), 1), plan.symbol)
        results[plan.symbol] = _collect_one(db, settings, src, plan, prefetched.get(plan.symbol))
    if progress:
        progress(1.0, "done")
    if hourly is not None:
        from assistant.ingest.hourly import collect_hourly

        readjusted = frozenset(s for s, r in results.items() if "re-adjusted" in r.message)
        hourly.extend(
            collect_hourly(
                db,
                settings,
                syms,
                source,
                until=until,
                explicit=explicit,
                readjusted=readjusted,
                now=now,
            )
        )
    out = [results[s] for s in syms]
    if not symbols:  # the whole watchlist: say which symbols were taken off it, and why
        out += [
            CollectResult(d["symbol"], "deactivated", message=d["reason"])
            for d in store_symbols.deactivated(db)
            if d["symbol"] not in results
        ]
    return out


def _prefetch(source: Source, plans: list[_Plan]) -> dict[str, pd.DataFrame | Exception]:
    """One batched request where the source supports it (Yahoo: fewer requests, fewer 429s)."""
    if len(plans) < 2 or not isinstance(source, Batched):
        return {}
    start, end = min(p.start for p in plans), max(p.end for p in plans)
    return source.history_many([p.symbol for p in plans], start, end)


def _collect_one(
    db: sqlite_utils.Database,
    settings: Settings,
    source: Source,
    plan: _Plan,
    prefetched: pd.DataFrame | Exception | None,
) -> CollectResult:
    sym = plan.symbol
    try:
        return _fetch_one(db, source, plan, prefetched)
    except TemporaryError as exc:
        store_symbols.record_collection(db, sym, error=str(exc), empty=False)
        return CollectResult(sym, "failed", message=str(exc))
    except NoDataError as exc:
        results: dict[str, CollectResult] = {sym: CollectResult(sym, "no-data", message=str(exc))}
        if len(calendar.sessions(plan.exchange, plan.start, plan.end)):
            _count_empty(db, settings, sym, str(exc), results)
        return results[sym]
    except (AssistantError, sqlite3.OperationalError) as exc:
        if cannot_write(exc, file_of(db)):
            raise  # not this symbol's failure: the whole collection waits for room
        store_symbols.record_collection(db, sym, error=str(exc), empty=False)
        return CollectResult(sym, "failed", message=str(exc))


def _count_empty(
    db: sqlite_utils.Database,
    settings: Settings,
    sym: str,
    message: str,
    results: dict[str, CollectResult],
) -> None:
    limit = int(settings.collect.deactivate_after_empty)
    if store_symbols.record_empty(db, sym, message=message, deactivate_after=limit):
        results[sym].message += f" — taken off the watchlist after {limit} empty answers in a row"
    elif (row := store_symbols.get(db, sym)) is not None and row["consecutive_empty"] >= limit > 0:
        results[sym].message += " — kept on the watchlist: it has stored bars"
