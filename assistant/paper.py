"""The paper account where it runs: after the walk-forward backtest (`backtest --paper`),
after each daemon cycle (live and replay), and read back by `assistant paper`.

All three use `models.paper` (the rules, one `step` per session, the report); this module
only feeds it: the `[paper]` settings, the bars' opens and closes, the calls of one horizon
and the volatility forecast each call carried (`vol_sigma`, the h-session σ of the log
return, annualized as σ·√(252/h)). A consumer of the cycle's results, never inside it.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.config import Settings
from assistant.errors import AssistantError
from models import paper
from store import paper as ledger
from store import registry
from store.symbols import active_symbols
from vocab.dates import session_date, session_text
from vocab.horizons import horizon_key


def rules_of(settings: Settings) -> paper.Rules:
    return paper.Rules(**dataclasses.asdict(settings.paper))


def ranking_verdict(db: sqlite_utils.Database, horizon: int, session: str) -> tuple[bool, str]:
    """Whether the `volatility` policy may tilt by the ranking at `horizon` as of `session`:
    only when the ranking model serving then passed its verdict on its held-out sessions
    (`models.scorecard.judged`: IC t >= 2, a positive spread, and beating the better of
    reversal and 12-1 momentum by t >= 2). (may tilt, why) - the why in words."""
    rows = [
        r for r in registry.serving_as_of(db, session_date(session))[0] if r["kind"] == "ranking"
    ]
    if not rows:
        return False, "no ranking model"
    row = rows[0]
    record = (row["metrics"].get("test") or {}).get(horizon_key(horizon))
    if not record:
        return False, f"{row['id']}: no record at h={horizon}"
    if record.get("edge"):
        return True, f"{row['id']} passed its verdict at h={horizon}"
    return False, f"{row['id']}: no edge at h={horizon}"


def direction_verdicts(db: sqlite_utils.Database, horizon: int, session: str) -> set[str]:
    """The symbols whose direction calls at `horizon` passed their verdict in `report` (an
    edge over the stronger baseline, Holm-adjusted p < 0.05 over every row it shows) on the
    calls verified by `session`: the only ones the opt-in `calls` policy may trade then."""
    from assistant.cycle.report import build
    from models.metrics import EDGE

    groups = build(db, until=session)["groups"]
    return {str(g["symbol"]) for g in groups if g["horizon"] == horizon and g["verdict"] == EDGE}


def policy_label(rules: paper.Rules, tilt: bool) -> str:
    """The label stored with each session of the paper book (`vocab.paper.policy_text`)."""
    return "volatility+tilt" if rules.policy == "volatility" and tilt else rules.policy


def main_book(books: tuple[str, ...] | dict[str, object]) -> str:
    """The book the account is: `paper`, or `hold` under the hold policy."""
    return "paper" if "paper" in books else "hold"


def settings_of(rules: paper.Rules) -> dict[str, object]:
    """The [paper] settings that shape the books from one session to the next (cash only
    starts an account)."""
    return {k: v for k, v in dataclasses.asdict(rules).items() if k != "cash"}


@dataclass(frozen=True)
class SettingsChange:
    """The newest change of the [paper] settings within the stored history."""

    base: str  # the last session stepped under the old settings: the figures start there
    first: str  # the first session stepped under the new ones
    what: list[str]  # "policy volatility -> calls", one per setting changed


def last_settings_change(db: sqlite_utils.Database) -> SettingsChange | None:
    """Where the settings last changed (sessions stepped before they were stored compare
    with nothing)."""
    book = main_book({b: None for b in ledger.latest(db)})
    rows = ledger.settings_by_session(db, book)
    for (base, old), (first, new) in reversed(list(itertools.pairwise(rows))):
        if old is not None and new is not None and old != new:
            what = [f"{k} {old.get(k)} -> {new.get(k)}" for k in new if old.get(k) != new[k]]
            return SettingsChange(base, first, what)
    return None


def annualized(vol_sigma: pd.Series, horizon: int) -> pd.Series:
    """The h-session σ of a call's log return, per year."""
    out: pd.Series = vol_sigma * np.sqrt(paper.SESSIONS_PER_YEAR / horizon)
    return out


# ------------------------------------------------------------------ after the backtest


def from_backtest(
    predictions: pd.DataFrame,
    bars: dict[str, pd.DataFrame],
    rules: paper.Rules,
    model: str | None = None,
) -> tuple[str, dict[str, paper.Book]]:
    """The books of following one model's walk-forward calls (default: the ensemble when it
    was backtested, else the first model) over the backtest's sessions. The `volatility`
    policy is not tilted here: the ranking's verdict over the same sessions would be a
    verdict on the sessions it trades (look-ahead)."""
    from models.catalog import takes_members

    models = list(dict.fromkeys(predictions["model"]))
    combined = [m for m in models if takes_members(m)]
    chosen = model or (combined[0] if combined else models[0] if models else None)
    if chosen not in models:
        raise AssistantError(
            f"--paper-model {chosen}: not among the backtested models ({', '.join(models)})"
        )
    calls = predictions[
        (predictions["model"] == chosen) & (predictions["horizon"] == rules.horizon)
    ].copy()
    if calls.empty:
        raise AssistantError(
            f"[paper] horizon = {rules.horizon}: the backtest made no calls at that horizon"
        )
    calls["as_of"] = pd.to_datetime(calls["as_of"])
    if "rank_score" in calls:  # the ranking model's walk-forward score: the `ranking` policy's
        calls["score"] = calls["rank_score"]
    symbols = sorted(set(calls["symbol"]))
    opens = pd.DataFrame({s: bars[s]["open"] for s in symbols}).sort_index()
    closes = pd.DataFrame({s: bars[s]["close"] for s in symbols}).sort_index()
    last = calls["as_of"].max()
    opens, closes = opens.loc[:last], closes.loc[:last]
    sigma = calls.assign(s=annualized(calls["vol_sigma"], rules.horizon)).pivot_table(
        index="as_of", columns="symbol", values="s", aggfunc="last"
    )
    try:
        return str(chosen), paper.compare(opens, closes, calls, sigma, rules)
    except ValueError as exc:  # a policy the calls cannot drive (ranking without scores)
        raise AssistantError(f"[paper] policy = {rules.policy}: {exc}") from None


# ------------------------------------------------------------------ after a daemon cycle


def step_session(db: sqlite_utils.Database, settings: Settings, as_of: date | None = None) -> str:
    """Step every book through one session (default: the newest with final bars): fill the
    orders decided after the previous stepped session at this session's opens, mark to
    market at its closes, decide the next orders from this session's calls. One transaction
    per session; a session already stepped, or older than the newest stepped, is left alone.

    Sessions the books missed (the daemon was stopped, a cycle failed) are stepped first, in
    order, with whatever calls were stored for them (none: what is held is kept), so pending
    orders fill at the next session's open, not days later, and every session is marked."""
    rules = rules_of(settings)
    symbols = active_symbols(db)
    # the books' sessions are the store's text
    session = session_text(as_of) if as_of else ledger.newest_session(db, symbols)
    if session is None or not symbols:
        return "paper: nothing to do (no watched symbols with bars)"
    newest = ledger.last_session(db)
    if newest is not None and session <= newest:
        return f"paper: {session} already stepped (newest {newest})"
    missed = ledger.sessions_between(db, newest, session, symbols) if newest else []

    # `calls`: the direction calls of a symbol without a passed verdict (on the calls verified
    # by the session stepped, never later ones) drive nothing
    def passed_by(day: str) -> set[str] | None:
        return direction_verdicts(db, rules.horizon, day) if rules.policy == "calls" else None

    for day in missed:
        _step_one(db, rules, symbols, day, passed_by(day))
    passed = passed_by(session)
    said = _step_one(db, rules, symbols, session, passed)
    if rules.policy == "volatility":
        said += "; tilt: " + ranking_verdict(db, rules.horizon, session)[1]
    if passed is not None:
        said += (
            f"; direction calls followed for {len(passed & set(symbols))} of {len(symbols)} "
            f"symbols (a passed verdict at h={rules.horizon}; the rest flat)"
        )
    if missed:
        said += f" (after {len(missed)} missed session(s) {missed[0]} .. {missed[-1]}, marked)"
    return said


def _step_one(
    db: sqlite_utils.Database,
    rules: paper.Rules,
    symbols: list[str],
    session: str,
    passed: set[str] | None = None,
) -> str:
    opens, closes = ledger.session_prices(db, session, symbols)
    if not closes:
        return f"paper: no final bars on {session}"
    calls = ledger.session_calls(db, session, rules.horizon, symbols)
    prior = ledger.state_before(db, session)
    frame = pd.DataFrame(calls, columns=["symbol", "call", "vol_sigma", "score"]).set_index(
        "symbol"
    )
    frame["score"] = frame["score"].astype(float)
    if passed is not None:  # `calls`: no passed verdict, no direction (flat)
        frame["call"] = frame["call"].where(frame.index.isin(list(passed)), "flat")
    sigma = annualized(frame["vol_sigma"].astype(float), rules.horizon)
    written: dict[str, ledger.SessionBook] = {}
    exits: list[str] = []
    books = ("hold", "long") if rules.policy == "hold" else ("paper", "hold", "long")
    # the ranking tilts the `volatility` policy only when its verdict passed
    tilt = rules.policy == "volatility" and ranking_verdict(db, rules.horizon, session)[0]
    for book in books:
        before = prior.get(book)
        account = (
            paper.Account.from_dict(before["account"]) if before else paper.Account(rules.cash)
        )
        if before and "missing" not in before["account"] and account.positions:
            # an account stepped before it counted sessions without a bar: count them now
            seen = ledger.sessions_without_bar(db, book, sorted(account.positions))
            account.missing = {s: n for s, (_, n) in seen.items() if n > 0}
        day = paper.step(
            account, session, opens, closes, before["pending"] if before else None, rules
        )
        if book == "paper" or (book == "hold" and "paper" not in books):
            exits = day.stale_exits
        if book == "hold":
            pending = paper.hold_weights(symbols) if before is None else None
        elif frame.empty:
            pending = None  # no calls this session: keep what is held
        else:
            policy = rules.policy if book == "paper" else "long"
            try:
                d = paper.directions(policy, frame, rules.long_short, rules.top_n)
            except ValueError as exc:  # ranking without scores: the job fails and says why
                raise AssistantError(f"[paper] policy = {rules.policy}: {exc}") from None
            scores = frame["score"] if book == "paper" and tilt else None
            pending = paper.target_weights(d, sigma, rules, len(symbols), scores)
        state: dict[str, object] = dict(account.to_dict())
        if book == "paper":
            state["policy"] = policy_label(rules, tilt)  # what the CLI and dashboard name
        if book == main_book(books):  # a change of them starts the figures anew
            state["settings"] = settings_of(rules)
        written[book] = {
            "cash": account.cash,
            "equity": day.equity,
            "costs": day.costs,
            "traded": day.traded,
            "account": state,
            "pending": pending,
            "fills": day.fills,
            "trips": day.trips,
        }
    if not ledger.write_session(db, session, written):
        return f"paper: {session} already stepped"
    main = written.get("paper", written["hold"])
    said = (
        f"paper {session}: equity {main['equity']:,.0f}, {len(main['fills'])} fills, "
        f"costs {main['costs']:,.2f}"
    )
    if exits:
        said += "; closed at the last close, no bar for too long: " + ", ".join(sorted(exits))
    return said


def stored_books(db: sqlite_utils.Database, since: str | None = None) -> dict[str, paper.Book]:
    """The daemon's books as `models.paper` reports them; `since`: from the close of that
    session on (its equity the base; costs, fills and round trips after it)."""
    rows = pd.DataFrame(ledger.history(db))
    out: dict[str, paper.Book] = {}
    if rows.empty:
        return out
    latest = ledger.latest(db)
    for book, g in rows.groupby("book", sort=False):
        g = g.sort_values("session")
        fills = ledger.fills(db, str(book), limit=1_000_000)
        trips = ledger.trips(db, str(book))
        if since is not None:
            g = g[g["session"] >= since]
            after = g["session"] > since
            g = g.assign(costs=g["costs"].where(after, 0.0), traded=g["traded"].where(after, 0.0))
            fills = [f for f in fills if f["session"] > since]
            trips = [t for t in trips if t["entry_session"] > since]
        # the first session of a book fills nothing (no orders yet): its equity is the cash
        equity = pd.Series(g["equity"].to_numpy(float), pd.to_datetime(g["session"]))
        acct = paper.Account.from_dict(latest[str(book)])
        out[str(book)] = paper.Book(
            str(book),
            equity,
            float(g["costs"].sum()),
            float(g["traded"].sum()),
            fills,
            trips,
            len(acct.positions),
            acct,
        )
    order = [b for b in ledger.BOOKS if b in out]
    return {b: out[b] for b in order}
