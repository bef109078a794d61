"""The paper account's ledger: per session and book, cash, equity, the account and the
orders pending for the next open; the fills and the closed round trips.

`write_session` lands a session whole (one BEGIN IMMEDIATE) or not at all, and refuses a
session already written: stepping an account twice would trade twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict, cast

import sqlite_utils

from store.db import immediate, utcnow
from vocab.scoring import STALE_AFTER_SESSIONS

BOOKS = ("paper", "hold", "long")


def last_session(db: sqlite_utils.Database) -> str | None:
    row = db.execute("SELECT MAX(session) FROM paper_days").fetchone()
    return row[0] if row else None


class PositionState(TypedDict):
    shares: float
    entry_price: float
    entry_date: str


class AccountJson(TypedDict):
    """A book's account as `paper_days.account` holds it (models.paper.Account.to_dict)."""

    cash: float
    positions: dict[str, PositionState]
    last: dict[str, float]  # the last known price of each symbol
    # held symbols: sessions in a row without a bar (newer rows)
    missing: NotRequired[dict[str, int]]
    policy: NotRequired[str]  # the paper book: the policy it followed (vocab.paper)
    # the main book: the [paper] settings it was stepped under, but cash (newer rows)
    settings: NotRequired[dict[str, object]]


class PriorBook(TypedDict):
    """A book's newest row before a session (`state_before`)."""

    session: str
    account: AccountJson
    pending: dict[str, float] | None  # target weights to fill at the next open


def state_before(db: sqlite_utils.Database, session: str) -> dict[str, PriorBook]:
    """Per book, its newest row before `session` (account and pending as parsed JSON)."""
    out: dict[str, PriorBook] = {}
    for book, account, pending, day in db.execute(
        "SELECT book, account, pending, MAX(session) FROM paper_days WHERE session < ? "
        "GROUP BY book",
        [session],
    ).fetchall():
        out[book] = {
            "session": day,
            "account": json.loads(account),
            "pending": json.loads(pending) if pending else None,
        }
    return out


def has_session(db: sqlite_utils.Database, session: str) -> bool:
    return (
        db.execute("SELECT 1 FROM paper_days WHERE session = ?", [session]).fetchone() is not None
    )


class SessionBook(TypedDict):
    """One book's session as `write_session` stores it."""

    cash: float
    equity: float
    costs: float
    traded: float
    account: Mapping[str, object]  # models.paper.Account.to_dict()
    pending: Mapping[str, float] | None  # target weights to fill at the next open
    fills: Sequence[Mapping[str, object]]
    trips: Sequence[Mapping[str, object]]


class BookState(AccountJson):
    """A book's newest row: its account parsed (models.paper.Account.to_dict), with the
    session and the equity."""

    session: str
    equity: float


class PaperDay(TypedDict):
    session: str
    book: str
    cash: float
    equity: float
    costs: float
    traded: float


def write_session(
    db: sqlite_utils.Database,
    session: str,
    books: Mapping[str, SessionBook],
) -> bool:
    """Write one session of every book: `books[name]` holds cash, equity, costs, traded,
    account (dict), pending (dict or None), fills and trips (lists of dicts). False (and
    nothing written) when the session is already there."""
    with immediate(db):
        if has_session(db, session):
            return False
        now = utcnow()
        for name, b in books.items():
            db.execute(
                "INSERT INTO paper_days (session, book, cash, equity, costs, traded, account, "
                "pending, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    session,
                    name,
                    b["cash"],
                    b["equity"],
                    b["costs"],
                    b["traded"],
                    json.dumps(b["account"]),
                    None if b["pending"] is None else json.dumps(b["pending"]),
                    now,
                ],
            )
            db.conn.executemany(
                "INSERT INTO paper_fills (session, book, symbol, shares, price, cost) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (session, name, f["symbol"], f["shares"], f["price"], f["cost"])
                    for f in b["fills"]
                ],
            )
            db.conn.executemany(
                "INSERT INTO paper_trips (exit_session, book, symbol, side, entry_session, "
                "entry_price, exit_price, hit) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session,
                        name,
                        t["symbol"],
                        t["side"],
                        t["entry_date"],
                        t["entry_price"],
                        t["exit_price"],
                        int(bool(t["hit"])),
                    )
                    for t in b["trips"]
                ],
            )
    return True


def history(db: sqlite_utils.Database, book: str | None = None) -> list[PaperDay]:
    """Every session row (without the account JSON), oldest first."""
    where, args = ("WHERE book = ?", [book]) if book else ("", [])
    cur = db.execute(
        f"SELECT session, book, cash, equity, costs, traded FROM paper_days {where} "
        "ORDER BY session, book",
        args,
    )
    return [
        PaperDay(session=d, book=b, cash=c, equity=e, costs=k, traded=t)
        for d, b, c, e, k, t in cur.fetchall()
    ]


def settings_by_session(
    db: sqlite_utils.Database, book: str
) -> list[tuple[str, dict[str, object] | None]]:
    """(session, the [paper] settings it was stepped under) of a book, oldest first; None
    for a session stepped before they were stored."""
    return [
        (session, json.loads(raw) if raw else None)
        for session, raw in db.execute(
            "SELECT session, json_extract(account, '$.settings') FROM paper_days "
            "WHERE book = ? ORDER BY session",
            [book],
        ).fetchall()
    ]


def _newest_rows(db: sqlite_utils.Database) -> list[tuple[str, str, str]]:
    """(book, session, account JSON) of each book's newest row: the state carried on."""
    rows = db.execute("SELECT book, MAX(session), account FROM paper_days GROUP BY book")
    return [(b, s, a) for b, s, a in rows.fetchall()]


def holding_sessions(db: sqlite_utils.Database, symbol: str) -> set[str]:
    """The sessions of the books' newest rows that hold `symbol`."""
    return {
        r[0]
        for r in db.execute(
            "SELECT s FROM (SELECT MAX(session) AS s, account FROM paper_days GROUP BY book) "
            "WHERE EXISTS (SELECT 1 FROM json_each(account, '$.positions') WHERE key = ?)",
            [symbol],
        ).fetchall()
    }


def rescale_holdings(db: sqlite_utils.Database, symbol: str, ratios: dict[str, float]) -> int:
    """A split or dividend re-adjusted `symbol`'s history by `ratios` (new / old close by
    session): each book holding it carries on with its shares divided and its entry and last
    prices multiplied by the ratio at its newest session, the same money at the new prices
    (else a 4-for-1 split marks three quarters of the holding as lost). Returns how many
    books changed."""
    changed = 0
    for book, session, raw in _newest_rows(db):
        account = json.loads(raw)
        held = account["positions"].get(symbol)
        ratio = ratios.get(session)
        if held is None or ratio is None:
            continue
        held["shares"] /= ratio
        held["entry_price"] *= ratio
        if symbol in account.get("last", {}):
            account["last"][symbol] *= ratio
        db.execute(
            "UPDATE paper_days SET account = ? WHERE book = ? AND session = ?",
            [json.dumps(account), book, session],
        )
        changed += 1
    return changed


def latest(db: sqlite_utils.Database) -> dict[str, BookState]:
    """Per book, its newest row with the account parsed."""
    out: dict[str, BookState] = {}
    for book, session, cash, equity, account in db.execute(
        "SELECT book, MAX(session), cash, equity, account FROM paper_days GROUP BY book"
    ).fetchall():
        parsed = {"session": session, "cash": cash, "equity": equity, **json.loads(account)}
        out[book] = cast(BookState, parsed)
    return out


class FillRow(TypedDict):
    """A stored fill (`fills`)."""

    session: str
    symbol: str
    shares: float  # signed: bought > 0, sold < 0
    price: float
    cost: float


class TripRow(TypedDict):
    """A stored round trip (`trips`)."""

    exit_session: str
    symbol: str
    side: str  # long | short
    entry_session: str
    entry_price: float
    exit_price: float
    hit: int


def fills(db: sqlite_utils.Database, book: str = "paper", limit: int = 50) -> list[FillRow]:
    cur = db.execute(
        "SELECT session, symbol, shares, price, cost FROM paper_fills WHERE book = ? "
        "ORDER BY session DESC, symbol LIMIT ?",
        [book, limit],
    )
    return [
        {"session": d, "symbol": s, "shares": n, "price": p, "cost": c}
        for d, s, n, p, c in cur.fetchall()
    ]


def trips(db: sqlite_utils.Database, book: str = "paper") -> list[TripRow]:
    cur = db.execute(
        "SELECT exit_session, symbol, side, entry_session, entry_price, exit_price, hit "
        "FROM paper_trips WHERE book = ? ORDER BY exit_session",
        [book],
    )
    return [
        {
            "exit_session": x,
            "symbol": s,
            "side": side,
            "entry_session": e,
            "entry_price": ep,
            "exit_price": xp,
            "hit": hit,
        }
        for x, s, side, e, ep, xp, hit in cur.fetchall()
    ]


def fill_count(db: sqlite_utils.Database) -> int:
    """How many fills are stored (all books): what a double trade would show."""
    return int(db.execute("SELECT COUNT(*) FROM paper_fills").fetchone()[0])


def newest_session(db: sqlite_utils.Database, symbols: list[str]) -> str | None:
    """The newest session with a final bar of any of `symbols`."""
    if not symbols:
        return None
    marks = ", ".join("?" * len(symbols))
    row = db.execute(
        f"SELECT MAX(date) FROM bars WHERE provisional = 0 AND symbol IN ({marks})", symbols
    ).fetchone()
    return row[0] if row else None


def sessions_between(
    db: sqlite_utils.Database, after: str, before: str, symbols: list[str]
) -> list[str]:
    """Sessions strictly between `after` and `before` with a final bar of any of `symbols`,
    oldest first."""
    marks = ", ".join("?" * len(symbols))
    rows = db.execute(
        f"SELECT DISTINCT date FROM bars WHERE provisional = 0 AND date > ? AND date < ? "
        f"AND symbol IN ({marks}) ORDER BY date",
        [after, before, *symbols],
    ).fetchall()
    return [r[0] for r in rows]


def session_prices(
    db: sqlite_utils.Database, session: str, symbols: list[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """(opens, closes) of the final bars of `session`."""
    marks = ", ".join("?" * len(symbols))
    rows = db.execute(
        f"SELECT symbol, open, close FROM bars WHERE date = ? AND provisional = 0 "
        f"AND symbol IN ({marks})",
        [session, *symbols],
    ).fetchall()
    return {s: o for s, o, _ in rows}, {s: c for s, _, c in rows}


def session_calls(
    db: sqlite_utils.Database, session: str, horizon: int, symbols: list[str]
) -> list[tuple[str, str, float | None, float | None]]:
    """(symbol, direction, vol_sigma, score) of the newest call per symbol as of `session` at
    `horizon`; score is the ranking model's expected relative move of the symbol for that
    session and horizon (None when it was not ranked)."""
    marks = ", ".join("?" * len(symbols))
    rows = db.execute(
        f"SELECT symbol, direction, vol_sigma FROM predictions WHERE as_of = ? AND horizon = ? "
        f"AND symbol IN ({marks}) ORDER BY made_at, id",
        [session, horizon, *symbols],
    ).fetchall()
    scores = dict(
        db.execute(
            f"SELECT symbol, relative FROM rankings WHERE as_of = ? AND horizon = ? "
            f"AND symbol IN ({marks}) ORDER BY made_at",
            [session, horizon, *symbols],
        ).fetchall()
    )
    return list({s: (s, d, v, scores.get(s)) for s, d, v in rows}.values())


class Standing(TypedDict):
    """A book's newest session, its equity, the equity it started with, open positions."""

    session: str
    equity: float
    start: float
    positions: int


def standing(db: sqlite_utils.Database) -> dict[str, Standing]:
    """Per book: newest session, its equity, the equity it started with, open positions."""
    out: dict[str, Standing] = {}
    for book, row in latest(db).items():
        first = db.execute(
            "SELECT equity FROM paper_days WHERE book = ? ORDER BY session LIMIT 1", [book]
        ).fetchone()
        out[book] = {
            "session": row["session"],
            "equity": row["equity"],
            "start": first[0],
            "positions": len(row.get("positions", {})),
        }
    return out


def sessions_without_bar(
    db: sqlite_utils.Database, book: str, symbols: Sequence[str]
) -> dict[str, tuple[str | None, int]]:
    """Per symbol: its newest final bar, and how many of `book`'s stepped sessions came
    after it (sessions the account marked it at an old price)."""
    out = {}
    for s in symbols:
        last = db.execute(
            "SELECT MAX(date) FROM bars WHERE symbol = ? AND provisional = 0", [s]
        ).fetchone()[0]
        n = db.execute(
            "SELECT COUNT(*) FROM paper_days WHERE book = ? AND session > ?", [book, last or ""]
        ).fetchone()[0]
        out[s] = (last, int(n))
    return out


class StaleHolding(TypedDict):
    """A held symbol with no bar for more than STALE_AFTER_SESSIONS of the account's
    sessions: valued at its last close, which no order can trade (models.paper)."""

    symbol: str
    last_bar: str | None
    sessions: int  # the account's sessions since its last bar
    price: float  # the last close it is valued at
    value: float  # signed market value at that close
    weight: float  # value over the book's equity


def stale_holdings(db: sqlite_utils.Database, book: str = "paper") -> list[StaleHolding]:
    """The stale holdings of `book`'s newest session (none before the account exists)."""
    try:
        state = latest(db).get(book)
    except sqlite3.OperationalError:  # a home older than the paper account's tables
        return []
    if state is None:
        return []
    held = state.get("positions", {})
    out = []
    for s, (last, n) in sessions_without_bar(db, book, sorted(held)).items():
        if n <= STALE_AFTER_SESSIONS:
            continue
        p = held[s]
        price = state.get("last", {}).get(s, p["entry_price"])
        value = p["shares"] * price
        equity = state["equity"]
        out.append(
            StaleHolding(
                symbol=s,
                last_bar=last,
                sessions=n,
                price=price,
                value=value,
                weight=value / equity if equity else 0.0,
            )
        )
    return out


class Position(TypedDict):
    symbol: str
    side: str  # long | short
    value: float  # signed market value
    stale_sessions: int  # sessions without a bar when stale (StaleHolding), else 0


class PaperPanel(TypedDict):
    """The dashboard's equity panel (see `panel`)."""

    book: str  # the book charted: "paper", or "hold" when only it has been stepped
    policy: str | None  # the policy the charted book followed at `session` (vocab.paper)
    session: str
    equity: float
    dates: list[str]
    paper: list[float]  # the charted book, indexed to 100
    hold: list[float | None]  # buy-and-hold, indexed to 100 (None before it started)
    drawdown: list[float]  # percent below the running peak
    positions: list[Position]


def panel(db: sqlite_utils.Database, limit: int = 250) -> PaperPanel | None:
    """What the dashboard's equity panel draws: the newest `limit` sessions of the paper
    account and buy-and-hold (each indexed to 100 at the first stepped session), the
    paper account's drawdown, and its open positions. None before the account exists."""
    try:
        rows = db.execute(
            "SELECT session, book, equity FROM paper_days WHERE book IN ('paper', 'hold') "
            "AND session >= COALESCE((SELECT session FROM (SELECT DISTINCT session FROM "
            "paper_days ORDER BY session DESC LIMIT ?) ORDER BY session LIMIT 1), '') "
            "ORDER BY session",
            [limit],
        ).fetchall()
    except sqlite3.OperationalError:  # a home older than the paper account's tables
        return None
    if not rows:
        return None
    starts = dict(
        db.execute(
            "SELECT book, equity FROM paper_days p WHERE session = "
            "(SELECT MIN(session) FROM paper_days q WHERE q.book = p.book)"
        ).fetchall()
    )
    series: dict[str, dict[str, float]] = {"paper": {}, "hold": {}}
    for session, book, equity in rows:
        series[book][session] = 100.0 * equity / starts[book]
    main = "paper" if series["paper"] else "hold"
    dates = sorted(series[main])
    peak, drawdown = 0.0, []
    for d in dates:
        peak = max(peak, series[main][d])
        drawdown.append(100.0 * (series[main][d] / peak - 1))
    now = latest(db)[main]
    stale = {h["symbol"]: h["sessions"] for h in stale_holdings(db, main)}
    positions = [
        Position(
            symbol=s,
            side="long" if p["shares"] > 0 else "short",
            value=p["shares"] * now.get("last", {}).get(s, p["entry_price"]),
            stale_sessions=stale.get(s, 0),
        )
        for s, p in sorted(now.get("positions", {}).items())
    ]
    return {
        "book": main,
        "policy": now.get("policy") if main == "paper" else "hold",
        "session": dates[-1],
        "equity": now["equity"],
        "dates": dates,
        "paper": [series[main][d] for d in dates],
        "hold": [series["hold"].get(d) for d in dates],
        "drawdown": drawdown,
        "positions": positions,
    }
