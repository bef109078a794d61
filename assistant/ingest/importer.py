"""`assistant import`: CSV files into the store, each file whole or not at all.

A file is parsed completely before the write lock is taken; then its symbols are
validated and written one after the other in one BEGIN IMMEDIATE transaction, which a
symbol that fails validation rolls back. A bad file leaves the database exactly as it
was and does not stop the other files.

A file of one-hour bars (`--hourly`, or found so: times of day other than midnight in
its first rows) goes to the hourly bars; then every session of its symbols is checked
against the daily bars (`ingest.hourly.check_rollup`) and flagged if it does not roll up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.ingest import restate
from assistant.ingest.sources.csv import (
    UTF8,
    load_hourly_file,
    looks_hourly,
    read_file,
    validated,
)
from store import bars
from store import hourly as store_hourly
from store import symbols as store_symbols
from store.db import immediate


@dataclass
class Imported:
    symbol: str
    rows: int
    added: int
    updated: int
    unchanged: int
    first: str
    last: str
    flagged: int  # daily: unexplained jumps; hourly: sessions that do not roll up
    kind: str = "daily"  # or "hourly"
    flagged_sessions: list[str] = field(default_factory=list)  # hourly: which
    restated: str = ""  # '; 1 pending call re-scaled with it' (ingest.restate)


@dataclass
class FileResult:
    path: str
    symbols: list[Imported] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error, "symbols": [vars(s) for s in self.symbols]}


def import_file(
    db: sqlite_utils.Database,
    path: Path,
    *,
    symbol: str | None = None,
    jump_threshold: float = 0.25,
    exchange: str = "XNYS",
    encoding: str = UTF8,
    hourly: bool | None = None,
) -> FileResult:
    """Import one file; a problem is returned as `error` (the database is then unchanged).
    `hourly`: the file holds one-hour bars (None: decided from its first rows).

    A daily file is parsed before the write lock is taken; then each symbol's bars are
    validated and written in turn inside one BEGIN IMMEDIATE transaction, which a symbol
    that fails validation rolls back whole: only one symbol's normalized bars are held at
    a time (a 2M-row file of many tickers)."""
    if hourly is None:
        hourly = looks_hourly(Path(path), encoding)
    if hourly:
        return _import_hourly(db, Path(path), symbol=symbol, exchange=exchange, encoding=encoding)
    result = FileResult(str(path))
    try:
        raws = read_file(Path(path), symbol=symbol, encoding=encoding)
        with bars.bulk_write(db):
            for sym, frame in validated(raws, jump_threshold=jump_threshold, exchange=exchange):
                store_symbols.ensure(db, sym, "csv")
                # a re-imported export after a split: pending calls and holdings move too
                restated = restate.upsert(db, sym, frame, "csv")
                written = restated.written
                result.symbols.append(
                    Imported(
                        sym,
                        len(frame),
                        written.added,
                        written.updated,
                        written.unchanged,
                        f"{frame.index[0]:%Y-%m-%d}",
                        f"{frame.index[-1]:%Y-%m-%d}",
                        int(frame["flagged"].sum()),
                        restated=restated.note(sym),
                    )
                )
    except (AssistantError, store_symbols.SymbolError) as exc:
        result.symbols = []
        result.error = str(exc)
        if "conflicting rows for the same date" in result.error:
            result.error += " (if these are hourly bars, pass --hourly)"
        return result
    _recheck(db, [s.symbol for s in result.symbols], exchange)
    return result


def _recheck(db: sqlite_utils.Database, syms: list[str], exchange: str) -> None:
    """New daily bars may settle (or break) the roll-up of stored hours: check again."""
    from assistant import calendar
    from assistant.ingest.hourly import check_rollup

    for sym in syms:
        if store_hourly.count(db, sym):
            check_rollup(db, sym, calendar.exchange_for(sym, exchange))


def _hour_taken(db: sqlite_utils.Database, parsed: list[Any]) -> str | None:
    """A bar whose hour of its session already holds a stored bar starting at another time
    (an earlier import on another grid: 10:00 bars onto 09:30 ones): the file's refusal."""
    for sym, frame in parsed:
        taken = store_hourly.taken_hours(db, sym, frame)
        if taken:
            return (
                f"{sym}: the bar of {taken[0]} falls in the same hour of the session as the "
                f"stored bar of {taken[1]} (not the stored one-hour bars); nothing imported"
            )
    return None


def _import_hourly(
    db: sqlite_utils.Database,
    path: Path,
    *,
    symbol: str | None,
    exchange: str,
    encoding: str,
) -> FileResult:
    from assistant import calendar
    from assistant.ingest.hourly import check_rollup

    result = FileResult(str(path))
    try:
        parsed = load_hourly_file(path, symbol=symbol, exchange=exchange, encoding=encoding)
    except (AssistantError, store_symbols.SymbolError) as exc:
        result.error = str(exc)
        return result
    clash = _hour_taken(db, parsed)
    if clash:
        result.error = clash
        return result
    written = []
    with immediate(db):
        for sym, frame in parsed:
            store_symbols.ensure(db, sym, "csv")
            written.append(store_hourly.upsert(db, sym, frame, "csv"))
    for (sym, frame), w in zip(parsed, written, strict=True):
        roll = check_rollup(db, sym, calendar.exchange_for(sym, exchange))
        result.symbols.append(
            Imported(
                sym,
                len(frame),
                w.added,
                w.updated,
                w.unchanged,
                f"{frame.index[0]:%Y-%m-%d %H:%M%z}",
                f"{frame.index[-1]:%Y-%m-%d %H:%M%z}",
                len(roll.flagged),
                kind="hourly",
                flagged_sessions=roll.flagged,
            )
        )
    return result


def import_files(
    db: sqlite_utils.Database,
    paths: list[Path],
    *,
    symbol: str | None = None,
    settings: Settings | None = None,
    encoding: str = UTF8,
    hourly: bool | None = None,
) -> list[FileResult]:
    jump = float(settings.collect.jump_threshold) if settings else 0.25
    exchange = settings.calendar.exchange if settings else "XNYS"
    if symbol is not None:
        symbol = store_symbols.validate_symbol(symbol)
    return [
        import_file(
            db,
            Path(p),
            symbol=symbol,
            jump_threshold=jump,
            exchange=exchange,
            encoding=encoding,
            hourly=hourly,
        )
        for p in paths
    ]
