"""The dashboard's paper-account panel, driven through Pilot on a real SQLite home."""

from __future__ import annotations

from store import paper as ledger
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync
from tui.app import make_app

SIZE = (160, 60)


def _book(equity: float, positions: dict) -> dict:
    return {
        "cash": equity, "equity": equity, "costs": 0.0, "traded": 0.0, "pending": None,
        "account": {"cash": 0.0, "positions": positions, "last": {"AAPL": 165.0}},
        "fills": [], "trips": [],
    }  # fmt: skip


@sync
async def test_the_equity_panel_shows_paper_against_buy_and_hold_drawdown_and_positions(home, db):
    fill(db)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Paper 2018" not in screen_text(app)  # hidden until the account exists
    held = {"AAPL": {"shares": 6.0, "entry_price": 160.0, "entry_date": "2018-06-27"}}
    for day, paper, hold in (
        ("2018-06-26", 1000.0, 1000.0),
        ("2018-06-27", 1100.0, 1010.0),
        ("2018-06-28", 990.0, 1030.0),
    ):
        ledger.write_session(db, day, {"paper": _book(paper, held), "hold": _book(hold, {})})
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "Paper 2018-06-28: 990 (-1.0%) · hold +3.0%" in text  # hold: buy-and-hold
    assert "drawdown -10.0% · held: AAPL +990" in text  # 1,100 -> 990; 6 shares at 165
    assert "buy-and-hold" in text and "100 + drawdown %" in text  # the chart's legend
