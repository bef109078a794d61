"""The watchlist, and the one gate every symbol passes before it is stored or queued."""

from __future__ import annotations

import re
from typing import TypedDict, cast

import sqlite_utils

from store.db import StoreError, immediate, utcnow

# Ticker shapes Yahoo uses: AAPL, BRK-B, ^GSPC, EURUSD=X, CL=F, 7203.T, TCS.NS, BTC-USD.
_SYMBOL = re.compile(r"\^?[A-Z0-9][A-Z0-9.\-]{0,14}(=[XF])?")
MAX_LEN = 20
DEACTIVATED = "deactivated: "  # how last_error begins for a symbol the collector took off


class SymbolError(StoreError, ValueError):
    """A symbol that is not a ticker we accept."""


def validate_symbol(raw: str) -> str:
    """Return the normalized symbol or raise SymbolError with a one-line reason."""
    if not isinstance(raw, str):
        raise SymbolError("symbol must be text")
    text = raw.strip(" ")
    shown = repr(raw) if len(raw) <= 30 else repr(raw[:27] + "...")
    if not text:
        raise SymbolError("symbol is empty")
    if len(text) > MAX_LEN:
        raise SymbolError(f"symbol {shown} is longer than {MAX_LEN} characters")
    if not text.isascii() or not text.isprintable():
        raise SymbolError(f"symbol {shown} contains characters a ticker cannot have")
    upper = text.upper()
    if not _SYMBOL.fullmatch(upper) or ".." in upper or upper.endswith((".", "-")):
        raise SymbolError(
            f"symbol {shown} is not a ticker (expected e.g. AAPL, BRK-B, ^GSPC, EURUSD=X, 7203.T)"
        )
    return upper


def add(db: sqlite_utils.Database, symbols: list[str], source: str) -> list[str]:
    """Add (or re-activate) symbols; all are validated before anything is written."""
    clean = [validate_symbol(s) for s in symbols]
    added = []
    now = utcnow()
    with immediate(db):
        for sym in dict.fromkeys(clean):
            row = db.execute("SELECT active FROM symbols WHERE symbol = ?", [sym]).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO symbols (symbol, active, source, added_at) VALUES (?, 1, ?, ?)",
                    [sym, source, now],
                )
                added.append(sym)
            elif not row[0]:
                db.execute(
                    "UPDATE symbols SET active = 1, removed_at = NULL, source = ?, consecutive_empty = 0, "
                    "last_error = NULL WHERE symbol = ?",
                    [source, sym],
                )
                added.append(sym)
    return added


def ensure(db: sqlite_utils.Database, symbol: str, source: str) -> None:
    """Make sure a row exists (for imported data) without changing an existing one."""
    db.execute(
        "INSERT OR IGNORE INTO symbols (symbol, active, source, added_at) VALUES (?, 1, ?, ?)",
        [validate_symbol(symbol), source, utcnow()],
    )


def remove(db: sqlite_utils.Database, symbol: str) -> bool:
    """Take a symbol off the watchlist; its bars and predictions stay as history.

    A symbol the collector deactivated can be removed too: it then counts as removed by the
    user (gone from `watch list`), its reason kept without the `deactivated: ` mark.
    """
    sym = validate_symbol(symbol)
    with immediate(db):
        cur = db.execute(
            "UPDATE symbols SET active = 0, removed_at = ?, last_error = CASE "
            "WHEN active = 0 THEN substr(last_error, ?) ELSE last_error END "
            "WHERE symbol = ? AND (active = 1 OR last_error LIKE ?)",
            [utcnow(), len(DEACTIVATED) + 1, sym, DEACTIVATED + "%"],
        )
        return cur.rowcount > 0


def removable(db: sqlite_utils.Database) -> set[str]:
    """The symbols `remove` takes: the watched ones and those the collector deactivated."""
    return set(active_symbols(db)) | {d["symbol"] for d in deactivated(db)}


class SymbolRow(TypedDict):
    """A symbols row as stored (`get`)."""

    symbol: str
    active: int  # 1 watched, 0 removed or deactivated
    source: str
    added_at: str
    removed_at: str | None
    last_collected_at: str | None
    last_error: str | None
    consecutive_empty: int
    exchange: str | None  # the exchange the app recorded for it (m008); None until then


class WatchlistRow(SymbolRow):
    """A symbols row with its status and stored bars (`watchlist`)."""

    status: str  # watched | deactivated | removed
    bars: int
    first_date: str | None
    last_date: str | None


def watchlist(db: sqlite_utils.Database, *, include_removed: bool = False) -> list[WatchlistRow]:
    """Watched symbols and the ones the collector took off (status `deactivated`, the reason
    in last_error); with include_removed also those a user removed (status `removed`)."""
    where = "" if include_removed else "WHERE s.active = 1 OR s.last_error LIKE ?"
    sql = f"""
        SELECT s.*, CASE WHEN s.active = 1 THEN 'watched'
                         WHEN s.last_error LIKE ? THEN 'deactivated' ELSE 'removed' END AS status,
               COUNT(b.date) AS bars, MIN(b.date) AS first_date, MAX(b.date) AS last_date
        FROM symbols s LEFT JOIN bars b ON b.symbol = s.symbol
        {where} GROUP BY s.symbol ORDER BY s.symbol
    """
    prefix = DEACTIVATED + "%"
    cur = db.execute(sql, [prefix] if include_removed else [prefix, prefix])
    cols = [c[0] for c in cur.description]
    return [cast(WatchlistRow, dict(zip(cols, row, strict=True))) for row in cur.fetchall()]


class Deactivated(TypedDict):
    symbol: str
    removed_at: str | None
    reason: str


def deactivated(db: sqlite_utils.Database) -> list[Deactivated]:
    """Symbols the collector took off the watchlist (not the ones a user removed), with why."""
    cur = db.execute(
        "SELECT symbol, removed_at, last_error AS reason FROM symbols "
        "WHERE active = 0 AND last_error LIKE ? ORDER BY symbol",
        [DEACTIVATED + "%"],
    )
    return [Deactivated(symbol=s, removed_at=at, reason=why) for s, at, why in cur.fetchall()]


def active_symbols(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT symbol FROM symbols WHERE active = 1 ORDER BY symbol")]


def record_collection(
    db: sqlite_utils.Database, symbol: str, *, error: str | None, empty: bool
) -> None:
    """Remember the outcome of a collection attempt for the watchlist view."""
    with immediate(db):
        if error is None:
            db.execute(
                "UPDATE symbols SET last_collected_at = ?, last_error = NULL, "
                "consecutive_empty = CASE WHEN ? THEN consecutive_empty + 1 ELSE 0 END "
                "WHERE symbol = ?",
                [utcnow(), int(empty), symbol],
            )
        else:
            db.execute("UPDATE symbols SET last_error = ? WHERE symbol = ?", [error, symbol])


def record_empty(
    db: sqlite_utils.Database, symbol: str, *, message: str, deactivate_after: int
) -> bool:
    """Count one more empty answer; take the symbol off the watchlist after too many in a row.

    A symbol with stored bars stays: a source's silence alone (a replay's sample that lacks
    an imported ticker, an outage) is no reason to drop history someone put there.
    Returns True when this answer deactivated the symbol.
    """
    with immediate(db):
        db.execute(
            "UPDATE symbols SET consecutive_empty = consecutive_empty + 1, last_error = ? "
            "WHERE symbol = ?",
            [message, symbol],
        )
        row = db.execute(
            "SELECT consecutive_empty, active FROM symbols WHERE symbol = ?", [symbol]
        ).fetchone()
        if row is None or not row[1] or deactivate_after <= 0 or row[0] < deactivate_after:
            return False
        if db.execute("SELECT 1 FROM bars WHERE symbol = ? LIMIT 1", [symbol]).fetchone():
            return False
        db.execute(
            "UPDATE symbols SET active = 0, removed_at = ?, last_error = ? WHERE symbol = ?",
            [
                utcnow(),
                f"{DEACTIVATED}no data on {row[0]} consecutive trading-day runs "
                f"(last answer: {message}); `assistant watch add {symbol}` to try again",
                symbol,
            ],
        )
        return True


def get(db: sqlite_utils.Database, symbol: str) -> SymbolRow | None:
    cur = db.execute("SELECT * FROM symbols WHERE symbol = ?", [symbol])
    row = cur.fetchone()
    if row is None:
        return None
    return cast(SymbolRow, dict(zip([c[0] for c in cur.description], row, strict=True)))


def unknown(db: sqlite_utils.Database, symbols: list[str]) -> list[str]:
    """Those of `symbols` the home has never held (not watched now, not in the history)."""
    return [s for s in dict.fromkeys(symbols) if get(db, s) is None]
