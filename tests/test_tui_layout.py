"""What the screens say at the sizes people use (100x30, 120x40, 200x50): axes that read
right with one or two points, columns by priority with a hint, titles that fit, a newest-first
history that shows the newest rows, the replay's clock, ranks after a removal, one
wording for "no call". The real app under Pilot on a real SQLite home."""

from __future__ import annotations

import re
from datetime import date

import pytest

from store import paper as ledger
from store import symbols
from store.db import immediate, open_db
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync, wait_for
from tui.app import make_app
from tui.widgets.equity import EquityChart
from tui.widgets.history import HistoryTable
from tui.widgets.price_chart import PriceChart
from tui.widgets.trend import TrendChart
from tui.widgets.watchlist import WatchlistTable

SIZES = [(100, 30), (120, 40), (200, 50)]
DAY = re.compile(r"\d{4}-\d\d-\d\d")
SIX = ("^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT")


def app_for(home):
    return make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)


def ticks(chart) -> list[str]:
    """The dates on a chart's x-axis, as painted (its last lines: axis and labels)."""
    painted = chart.render().plain.splitlines()
    return DAY.findall("\n".join(painted[-2:]))


def _book(equity: float) -> dict:
    return {
        "cash": equity, "equity": equity, "costs": 0.0, "traded": 0.0, "pending": None,
        "account": {"cash": equity, "positions": {}, "last": {}},
        "fills": [], "trips": [],
    }  # fmt: skip


def _axis_ok(days: list[str], first: str, last: str) -> None:
    """Distinct ticks, in order, within a week of the data (not 1956..2069)."""
    assert len(days) >= 2 and len(set(days)) == len(days), days
    assert days == sorted(days)
    lo, hi = date.fromisoformat(first), date.fromisoformat(last)
    for d in map(date.fromisoformat, days):
        assert (lo - d).days <= 7 and (d - hi).days <= 7, (days, first, last)


@pytest.mark.parametrize("size", SIZES)
@sync
async def test_charts_with_one_or_two_points_have_sensible_distinct_ticks(home, db, size):
    fill(db, predict_last=2)  # verified calls target one session: the trend has one point
    ledger.write_session(db, "2018-06-28", {"paper": _book(1000.0), "hold": _book(1000.0)})
    async with app_for(home).run_test(size=size) as pilot:
        await settle(pilot)
        trend = pilot.app.screen.query_one(TrendChart)
        equity = pilot.app.screen.query_one(EquityChart)
        assert trend.trend is not None and len(trend.trend["dates"]) == 1
        _axis_ok(ticks(trend), "2018-06-29", "2018-06-29")
        _axis_ok(ticks(equity), "2018-06-28", "2018-06-28")
        ledger.write_session(db, "2018-06-29", {"paper": _book(1010.0), "hold": _book(990.0)})
        assert await wait_for(pilot, lambda: "Paper 2018-06-29" in screen_text(pilot.app))
        await settle(pilot)
        _axis_ok(ticks(equity), "2018-06-28", "2018-06-29")


@pytest.mark.parametrize("size", SIZES)
@sync
async def test_the_watchlist_keeps_its_most_wanted_columns_and_says_where_the_rest_are(
    home, db, size
):
    fill(db, names=SIX)
    async with app_for(home).run_test(size=size) as pilot:
        await settle(pilot)
        text = screen_text(pilot.app)
        table = pilot.app.screen.query_one(WatchlistTable)
        shown = [c.label.plain for c in table.ordered_columns]
    header = next(line for line in text.splitlines() if " Symbol " in line and "Close" in line)
    for name in shown:  # every column kept is on screen, not cut off at the panel's edge
        assert name in header
    # the most wanted come first: symbol, close, change, the call and its range
    assert {"Symbol", "Close", "Chg", "Latest call", "80% range"} <= set(shown)
    missing = 12 - len(shown)
    if size == (200, 50):
        assert missing == 0 and "Model" in header and "ensemble-3" in text
        assert "more columns" not in text
    else:
        assert missing > 0
        assert f"Watchlist (6 symbols; enter shows {missing} more columns)" in text
        # the pending table too: its calls are listed in full on each symbol's screen
        assert re.search(r"Pending predictions \(36 shown, soonest first; \d more col", text)
    if size != (100, 30):
        assert "Hit rate" in header  # usable at 120x40: the hit rate is there


@pytest.mark.parametrize("size", SIZES)
@sync
async def test_titles_fit_their_panel_or_say_they_were_cut(home, db, size):
    fill(db)
    symbols.add(db, ["NVDA"], "sample")
    why = "the sample has no NVDA: the symbol may be delisted or mistyped"
    assert symbols.record_empty(db, "NVDA", message=why, deactivate_after=1)
    async with app_for(home).run_test(size=size) as pilot:
        await settle(pilot)
        text = screen_text(pilot.app)
    off = next(line for line in text.splitlines() if "NVDA OFF THE LIST" in line)
    # what to do comes first, why after it; a cut says so
    assert "NVDA OFF THE LIST: `assistant watch add NVDA` to retry" in off
    assert ("no data on 1" in off and "mistyped)" in off) or "…" in off, off
    # the accuracy title keeps to its two lines above the chart: none wraps into it
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "Hit 50.0% vs always-up" in line)
    assert "80% range covered" in lines[at + 1]
    assert "┌" in lines[at + 2] or "┤" in lines[at + 2] or "│" in lines[at + 2]


@sync
async def test_the_newest_first_history_keeps_the_newest_rows_in_view(home, db):
    fill(db)
    writer = open_db(home)
    async with app_for(home).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        table = pilot.app.screen.query_one(HistoryTable)
        assert table.get_row_at(0)[0] == "2018-06-29"
        # the replay goes on: three more sessions of calls arrive while the screen is open
        for day in ("2018-07-02", "2018-07-03", "2018-07-05"):
            with immediate(writer):
                writer.execute(
                    "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, "
                    "target_date, base_price, pred_change_pct, pred_price, direction) VALUES "
                    "('AAPL', ?, 1, 'ensemble-3', ?, '2018-07-09', 164.35, 0.5, 165.2, 'up')",
                    [day, f"{day}T21:00:00+00:00"],
                )
                writer.execute("UPDATE daemon SET sim_date = ?", [day])
            assert await wait_for(pilot, lambda d=day: table.get_row_at(0)[0] == d)
            await settle(pilot)
            rows = re.findall(r"^ (\d{4}-\d\d-\d\d)  \dd ", screen_text(pilot.app), re.M)
            assert rows[0] == day, rows[:3]  # the newest row is the top row on screen
        # a user who moved down stays on their row; Home brings back the newest
        await pilot.press("down", "down", "down", "down")
        await pilot.press("home")
        await settle(pilot)
        assert table.cursor_row == 0
        rows = re.findall(r"^ (\d{4}-\d\d-\d\d)  \dd ", screen_text(pilot.app), re.M)
        assert rows[0] == "2018-07-05"
    writer.close()


@pytest.mark.parametrize("size", SIZES)
@sync
async def test_the_symbol_screen_shows_the_regime_the_rest_and_a_fan_with_room(home, db, size):
    fill(db, names=SIX)
    async with app_for(home).run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # AAPL, GOOG, IBM: IBM
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot.app)
        chart = pilot.app.screen.query_one(PriceChart)
        days = ticks(chart)
    assert re.search(r"IBM  last close [\d,.]+ on 2018-06-29 .* bearish for \d+ sessions", text)
    # what the dashboard's narrow columns leave out: coverage, rank, the call, the model
    assert re.search(r"80% range held \d+% n=50 · rank 5/6 -0\.\d\d% · latest call", text)
    assert "model ensemble-3" in text
    # the pending calls reach 2018-07-06: the axis runs there, and the future (a week)
    # gets a fair share of it instead of the last few columns of six months
    assert days[-1] == "2018-07-06"
    span = (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days
    assert 7 / span >= 0.18, days


@sync
async def test_the_symbol_title_does_not_say_no_verified_calls_above_verified_rows(home, db):
    fill(db)
    db.execute("UPDATE predictions SET direction = 'flat', hit = NULL")
    db.conn.commit()
    async with app_for(home).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot.app)
    assert "no verified calls yet" not in text
    assert re.search(r"no hit rate yet \(\d+ verified, all no call\)", text)
    assert re.search(r"2018-06-28 +1d +no call 1d .* no call ", text)  # a verified row


@sync
async def test_after_a_removal_the_ranks_count_the_symbols_still_watched(home, db):
    fill(db, names=SIX)
    symbols.remove(db, "GOOG")
    async with app_for(home).run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        text = screen_text(pilot.app)
    ranks = re.findall(r"\b(\d)/(\d) [+-]\d\.\d\d%", text)
    assert sorted(ranks) == [("1", "5"), ("2", "5"), ("3", "5"), ("4", "5"), ("5", "5")]
    assert "/6 " not in text


@pytest.mark.parametrize("size", [(120, 40), (200, 50)])
@sync
async def test_a_replay_over_later_bars_shows_the_close_as_of_its_clock(home, db, size):
    fill(db, end="2018-06-29")
    with db.conn:  # the replay's clock is back at 2018-06-15; the home holds later bars
        db.execute("UPDATE daemon SET sim_date = '2018-06-15'")
        db.execute("DELETE FROM predictions WHERE as_of > '2018-06-15'")
    close = db.execute(
        "SELECT close FROM bars WHERE symbol = 'AAPL' AND date = '2018-06-15'"
    ).fetchone()[0]
    later = db.execute(
        "SELECT close FROM bars WHERE symbol = 'AAPL' AND date = '2018-06-29'"
    ).fetchone()[0]
    async with app_for(home).run_test(size=size) as pilot:
        await settle(pilot)
        text = screen_text(pilot.app)
        assert re.search(rf"AAPL +{close:,.2f} ", text), text
        assert f"{later:,.2f}" not in text
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot.app)
    assert f"AAPL  last close {close:,.2f} on 2018-06-15" in text
    assert "2018-06-29" not in text.split("Prediction history")[0].split("\n", 2)[0]


def test_a_screenshot_size_that_is_not_w_x_h_is_one_error_line(home, capsys):
    from tui.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["--home", str(home), "--screenshot", str(home / "x.svg"), "--size", "wide"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("error: --size 'wide' is not WxH (e.g. 120x40)")
    assert not (home / "x.svg").exists()
