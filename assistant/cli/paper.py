"""CLI command `paper`: the daemon's paper account now, its history, next to buy-and-hold.
`backtest --paper` prints the same table (`paper_table`) for the walk-forward calls."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from assistant.cli.common import open_home, print_json, table
from vocab.paper import policy_text

if TYPE_CHECKING:
    from store.paper import BookState, PaperDay, StaleHolding

PAPER_HEAD = [
    "book",
    "total",
    "annual",
    "vol",
    "sharpe",
    "sortino",
    "max dd",
    "turnover/yr",
    "costs",
    "trades",
    "hit rate",
    "p vs hold",
    "p vs long",
    "SR p vs hold",
    "SR p vs long",
]

LEGEND = (
    "paper: the [paper] policy; hold: equal-weight buy-and-hold of the same symbols; long: "
    "always long with the paper's sizing, no tilt (the volatility policy untilted: paper and "
    "long are the same book unless the ranking passed its verdict). Same costs for all. "
    "Fills at the next session's open after each decision. turnover: one-way traded notional per year over mean equity. "
    "trades: round trips (a hit: the price moved its way between entry and exit fills). "
    "p: one-sided paired Newey-West test that the paper's daily returns beat the other book's. "
    "SR p: one-sided test that the paper's Sharpe beats the other book's (circular block "
    "bootstrap of the paired daily returns, blocks of 21 sessions, 2,000 draws). "
    "sortino: annualized mean over the downside deviation."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "paper",
        help="the paper account: equity, positions, trades, next to buy-and-hold",
        description="The paper account the daemon keeps ([paper] in config.toml): after each "
        "cycle it fills the orders decided at the previous close at this session's open, marks "
        "to market at the close, and decides the next orders from this session's calls. Shown "
        "next to equal-weight buy-and-hold and always-long under the same costs. " + LEGEND,
    )
    p.add_argument("--history", action="store_true", help="also print the equity per session")
    p.add_argument("--json", action="store_true", help="print the account and report as JSON")
    p.set_defaults(func=cmd_paper)


def _pct(v: str | float | None) -> str:
    return "-" if v is None else f"{v:+.1%}"


def _num(v: str | float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def paper_rows(report: list[dict[str, str | int | float | None]]) -> list[list[object]]:
    return [
        [
            r["book"],
            _pct(r["total_return"]),
            _pct(r["annual_return"]),
            _num(r["volatility"], ".1%"),
            _num(r["sharpe"]),
            _num(r.get("sortino")),
            _num(r["max_drawdown"], ".1%"),
            _num(r["turnover"], ".1f"),
            _num(r["costs"], ",.0f"),
            r["trades"],
            _num(r["hit_rate"], ".1%"),
            _num(r.get("p_vs_hold"), ".3g"),
            _num(r.get("p_vs_long"), ".3g"),
            _num(r.get("p_sharpe_vs_hold"), ".3g"),
            _num(r.get("p_sharpe_vs_long"), ".3g"),
        ]
        for r in report
    ]


def paper_table(report: list[dict[str, str | int | float | None]]) -> str:
    return table(paper_rows(report), PAPER_HEAD) + "\n\n" + LEGEND


def cmd_paper(args: argparse.Namespace) -> int:
    from assistant.paper import last_settings_change, stored_books
    from models import paper
    from store import paper as ledger

    _, settings, db = open_home(args, writes=False)
    try:
        change = last_settings_change(db)
        books = stored_books(db, since=change.base if change else None)
        started = ledger.history(db, "paper")[:1] or ledger.history(db, "hold")[:1]
        latest = ledger.latest(db)
        history = ledger.history(db) if args.history or args.json else []
        recent = ledger.fills(db, "paper", limit=20)
        stale = ledger.stale_holdings(db, "paper" if "paper" in latest else "hold")
    finally:
        db.close()
    report = paper.report(books) if books else []
    exit_after = settings.paper.stale_exit_sessions
    # the policy the account followed at its newest session (vocab.paper)
    policy = latest["paper"].get("policy") if "paper" in latest else "hold" if latest else None
    notes = []
    if change:
        n = len(next(iter(books.values())).equity) - 1
        notes.append(
            f"the [paper] settings changed after the close of {change.base} "
            f"({'; '.join(change.what)}): the figures below are for the {n} session"
            f"{'s' if n != 1 else ''} since, in every book (equity and positions carry on)"
        )
    if started and abs(started[0]["equity"] - settings.paper.cash) > 0.005:
        notes.append(
            f"[paper] cash = {settings.paper.cash:,.2f} starts a new account only: this one "
            f"started with {started[0]['equity']:,.2f} on {started[0]['session']}"
        )
    if args.json:
        print_json(
            {
                "report": report,
                "settings_changed": (
                    {"after": change.base, "from": change.first, "what": change.what}
                    if change
                    else None
                ),
                "policy": policy,
                "accounts": latest,
                "history": history,
                "fills": recent,
                "stale": stale,
                "stale_exit_sessions": exit_after,
            }
        )
        return 0
    if not books:
        print(
            "no paper account yet: the daemon steps it after each cycle "
            "(`assistant start`, or `assistant daemon --replay`)"
        )
        return 0
    main = latest.get("paper") or latest["hold"]
    print(
        f"paper account as of {main['session']}: equity {main['equity']:,.2f}, cash "
        f"{main['cash']:,.2f}"
    )
    print(f"policy {policy_text(policy)}")
    for note in notes:
        print(note)
    print(_positions(main, {h["symbol"] for h in stale}))
    for h in stale:
        print(stale_line(h, exit_after))
    print()
    print(paper_table(report))
    if args.history:
        print()
        print(_history(history))
    return 0


def stale_line(h: StaleHolding, exit_after: int) -> str:
    """What a stale holding is and what the account does with it (models.paper)."""
    then = (
        "kept at that price ([paper] stale_exit_sessions = 0)"
        if exit_after == 0
        else (
            f"the account closes it at that close after {exit_after} sessions without a bar "
            "([paper] stale_exit_sessions)"
        )
    )
    return (
        f"STALE: {h['symbol']} has had no bar since {h['last_bar'] or 'ever'} "
        f"({h['sessions']} sessions of the account): valued at its last close "
        f"{h['price']:,.2f} ({h['weight']:.1%} of equity), which no order can trade; {then}"
    )


def _positions(account: BookState, stale: set[str]) -> str:
    rows = []
    for s, p in sorted(account.get("positions", {}).items()):
        price = account.get("last", {}).get(s, p["entry_price"])
        rows.append(
            [
                s,
                "long" if p["shares"] > 0 else "short",
                f"{p['shares']:,.2f}",
                f"{p['entry_price']:,.2f}",
                p["entry_date"],
                f"{price:,.2f}" + (" STALE" if s in stale else ""),
                f"{p['shares'] * price:,.2f}",
            ]
        )
    if not rows:
        return "no open positions"
    return table(rows, ["symbol", "side", "shares", "entry", "since", "last", "value"])


def _history(rows: list[PaperDay]) -> str:
    by_day: dict[str, dict[str, float]] = {}
    for r in rows:
        by_day.setdefault(r["session"], {})[r["book"]] = r["equity"]
    books = [b for b in ("paper", "hold", "long") if any(b in v for v in by_day.values())]
    return table(
        [[d, *(_num(v.get(b), ",.2f") for b in books)] for d, v in sorted(by_day.items())],
        ["session", *books],
    )
