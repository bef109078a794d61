"""A held symbol that stops trading (no bar for months): the paper account flags it stale
and, after `[paper] stale_exit_sessions`, closes it at its last close (models/paper.py,
"Stale holdings"); `assistant paper`, the dashboard's panel and the alerts say so."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from assistant.alerts import events
from assistant.cli import main
from assistant.config import Settings
from assistant.config import load as load_settings
from assistant.paper import step_session
from models import paper
from store import paper as ledger
from store.db import open_db
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync
from tui.app import make_app
from tui.widgets.equity import title_of
from vocab.dates import session_date


def test_a_holding_without_bars_turns_stale_then_is_closed_at_its_last_close() -> None:
    rules = paper.Rules(cash=10_000, cost_bps=10, slippage_bps=0, band=0, stale_exit_sessions=6)
    acct = paper.Account(10_000)
    both = {"AAA": 100.0, "BBB": 50.0}
    paper.step(acct, "d0", both, {"AAA": 100.0, "BBB": 52.0}, {"AAA": 0.4, "BBB": 0.4}, rules)
    shares = acct.positions["BBB"].shares
    assert shares == pytest.approx(80)
    stale_seen = []
    for k in range(1, 6):  # BBB has no bar; an order to add to it lapses (no open)
        day = paper.step(acct, f"d{k}", {"AAA": 100.0}, {"AAA": 100.0}, {"BBB": 0.9}, rules)
        # AAA sold to nothing at the first of them; BBB never traded
        assert [f["symbol"] for f in day.fills] == (["AAA"] if k == 1 else [])
        assert acct.missing == {"BBB": k} and day.stale_exits == []
        assert day.equity == pytest.approx(acct.cash + shares * 52.0)  # marked at 52
        stale_seen.append(acct.stale())
    assert stale_seen == [{}, {}, {}, {"BBB": 4}, {"BBB": 5}]  # stale after 3 sessions
    cash = acct.cash
    day = paper.step(acct, "d6", {"AAA": 100.0}, {"AAA": 100.0}, None, rules)
    assert day.stale_exits == ["BBB"] and "BBB" not in acct.positions and acct.missing == {}
    (fill_,) = day.fills
    cost = 80 * 52.0 * 0.001
    assert fill_ == {"date": "d6", "symbol": "BBB", "shares": -shares, "price": 52.0, "cost": cost}
    assert acct.cash == pytest.approx(cash + 80 * 52.0 - cost)
    assert day.trips[0]["exit_price"] == 52.0 and day.trips[0]["hit"] is True  # 50 -> 52
    assert day.equity == pytest.approx(acct.cash)


def test_a_gap_shorter_than_the_limit_sells_nothing_and_never_is_never() -> None:
    for limit, gap in ((6, 5), (0, 40)):
        rules = paper.Rules(cash=1_000, cost_bps=0, slippage_bps=0, stale_exit_sessions=limit)
        acct = paper.Account(1_000)
        paper.step(acct, "d0", {"AAA": 10.0}, {"AAA": 10.0}, {"AAA": 0.5}, rules)
        for k in range(gap):
            assert paper.step(acct, f"g{k}", {}, {}, None, rules).fills == []
        assert acct.missing == {"AAA": gap}
        again = paper.Account.from_dict(json.loads(json.dumps(acct.to_dict())))
        assert again.missing == {"AAA": gap}  # the ledger's JSON keeps the count
        paper.step(again, "d1", {"AAA": 11.0}, {"AAA": 11.0}, None, rules)
        assert again.missing == {} and "AAA" in again.positions  # a bar again: fresh


def test_the_backtests_books_close_a_symbol_that_stopped_trading() -> None:
    days = pd.bdate_range("2024-01-01", periods=40)
    opens = pd.DataFrame({"AAA": 100.0, "BBB": 50.0}, days)
    opens.loc[days[10] :, "BBB"] = float("nan")  # BBB's last bar is days[9]
    rules = paper.Rules(cash=10_000, cost_bps=0, slippage_bps=0, stale_exit_sessions=20)
    book = paper.run("hold", opens, opens, {days[0] - pd.Timedelta(days=1): {"BBB": 0.5}}, rules)
    exit_ = [f for f in book.fills if f["shares"] < 0]
    assert [(f["date"], f["price"]) for f in exit_] == [(str(days[29].date()), 50.0)]
    assert book.account.positions == {} and book.equity.iloc[-1] == pytest.approx(10_000)


def _home(tmp_path: Path, exit_after: int) -> tuple[Path, list[str]]:
    """A daemon's home: AAPL and MSFT, always long; MSFT's bars (and calls) stop 30
    sessions before the end. The account is stepped from 35 sessions before the end."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[paper]\npolicy = "long"\nhorizon = 1\nband = 0\nstale_exit_sessions = {exit_after}\n'
    )
    db = open_db(home)
    try:
        fill(db, names=("AAPL", "MSFT"))
        days = [r[0] for r in db.execute("SELECT date FROM bars WHERE symbol = 'AAPL' ORDER BY 1")]
        with db.conn:
            db.execute("UPDATE predictions SET vol_sigma = 0.01")
            db.execute("DELETE FROM bars WHERE symbol = 'MSFT' AND date > ?", [days[-31]])
            db.execute("DELETE FROM predictions WHERE symbol = 'MSFT' AND as_of > ?", [days[-31]])
        settings = load_settings(home)
        step_session(db, settings, as_of=session_date(days[-36]))
        step_session(db, settings, as_of=session_date(days[-35]))  # the orders fill: MSFT is held
        assert "MSFT" in ledger.latest(db)["paper"]["positions"]
    finally:
        db.close()
    return home, days


def test_a_stale_holding_is_flagged_by_paper_the_alerts_and_the_panel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, days = _home(tmp_path, exit_after=0)  # never closed: it stays, flagged
    db = open_db(home)
    try:
        alerts = Settings().replace("alerts", urls=("json://127.0.0.1:9/",)).alerts
        events.scan(db, alerts)  # the first scan marks history as seen
        step_session(db, load_settings(home), as_of=session_date(days[-1]))
        assert events.scan(db, alerts) >= 1
        assert events.scan(db, alerts) == 0  # once per symbol and last bar
        (title, body), *_ = db.execute(
            "SELECT title, body FROM alerts WHERE key LIKE 'paper-stale:%'"
        ).fetchall()
        held = ledger.latest(db)["paper"]["positions"]
        panel = ledger.panel(db)
    finally:
        db.close()
    assert "MSFT" in held
    assert title == "MSFT: stale holding in the paper account"
    assert f"no bar since {days[-31]} (30 sessions)" in body
    assert panel is not None
    assert "MSFT +" in title_of(panel) and "STALE 30 sessions" in title_of(panel)

    assert main(["--home", str(home), "paper"]) == 0
    out = capsys.readouterr().out
    assert f"STALE: MSFT has had no bar since {days[-31]} (30 sessions of the account)" in out
    assert "kept at that price ([paper] stale_exit_sessions = 0)" in out
    assert main(["--home", str(home), "paper", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    (stale,) = got["stale"]
    assert stale["symbol"] == "MSFT" and stale["sessions"] == 30
    assert stale["last_bar"] == days[-31] and 0 < stale["weight"] < 1
    assert got["stale_exit_sessions"] == 0


def test_a_stale_holding_is_closed_after_stale_exit_sessions(tmp_path: Path) -> None:
    home, days = _home(tmp_path, exit_after=20)
    db = open_db(home)
    try:
        last_close = db.execute(
            "SELECT close FROM bars WHERE symbol = 'MSFT' ORDER BY date DESC LIMIT 1"
        ).fetchone()[0]
        said = step_session(db, load_settings(home), as_of=session_date(days[-1]))
        exits = db.execute(
            "SELECT session, price, shares FROM paper_fills WHERE book = 'paper' "
            "AND symbol = 'MSFT' AND session > ?",
            [days[-31]],
        ).fetchall()
        latest = ledger.latest(db)["paper"]
        stale = ledger.stale_holdings(db)
    finally:
        db.close()
    # the 20th session without a bar is days[-31 + 20]
    assert [(s, p) for s, p, _ in exits] == [(days[-11], last_close)] and exits[0][2] < 0
    assert "MSFT" not in latest["positions"] and stale == []
    assert "closed at the last close" not in said  # it happened on a missed session


def test_an_account_stepped_before_the_count_existed_closes_a_long_dead_holding(
    tmp_path: Path,
) -> None:
    """A ledger written before accounts counted sessions without a bar (no `missing` in its
    JSON): the next step counts them from the bars and closes what is long past the limit."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[paper]\npolicy = "long"\nhorizon = 1\n')
    db = open_db(home)
    try:
        fill(db, names=("AAPL", "MSFT"))
        days = [r[0] for r in db.execute("SELECT date FROM bars WHERE symbol = 'AAPL' ORDER BY 1")]
        with db.conn:
            db.execute("DELETE FROM bars WHERE symbol = 'MSFT' AND date > ?", [days[-60]])
        held = {"MSFT": {"shares": 100.0, "entry_price": 90.0, "entry_date": days[-61]}}
        for d in days[-40:-1]:
            account = {"cash": 0.0, "positions": held, "last": {"MSFT": 95.0}}
            row = {
                "cash": 0.0, "equity": 9_500.0, "costs": 0.0, "traded": 0.0, "pending": None,
                "account": account, "fills": [], "trips": [],
            }  # fmt: skip
            ledger.write_session(db, d, {"paper": row, "hold": row, "long": row})
        assert [h["sessions"] for h in ledger.stale_holdings(db)] == [39]
        said = step_session(db, load_settings(home), as_of=session_date(days[-1]))
        latest = ledger.latest(db)["paper"]
    finally:
        db.close()
    assert "closed at the last close, no bar for too long: MSFT" in said
    assert latest["positions"] == {} and latest["cash"] == pytest.approx(9_500 * (1 - 7e-4))


@sync
async def test_the_dashboards_paper_panel_says_stale(tmp_path: Path) -> None:
    home, days = _home(tmp_path, exit_after=0)
    db = open_db(home)
    try:
        step_session(db, load_settings(home), as_of=session_date(days[-1]))
    finally:
        db.close()
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "STALE 30 sessions" in text
