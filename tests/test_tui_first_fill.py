"""Issue 34, the first paint at 500 symbols: a long watchlist's first fill puts in the rows a
screen can show before the first frame and the rest right after it; the table ends up
complete, in the snapshot's order, its scroll bar sized for every row from the start."""

from __future__ import annotations

from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync
from tui.app import make_app
from tui.widgets.watchlist import WatchlistTable

SIZE = (160, 45)
NAMES = tuple(f"S{i:03d}" for i in range(70))  # more rows than a 45-line screen shows


@sync
async def test_a_long_watchlist_fills_its_first_screenful_then_every_row_in_order(home, db):
    fill(db, NAMES, sessions=40, predict_last=3, horizons=(1,), job=False)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#watchlist", WatchlistTable)
        assert app.last_data is not None
        wanted = [r["symbol"] for r in app.last_data["watchlist"]]
        assert len(wanted) == len(NAMES)
        # after the app's own first fill: every row, in the snapshot's order
        assert [r.key.value for r in table.ordered_rows] == wanted
        full_height = table.virtual_size.height
        assert full_height == len(NAMES) + table.header_height
        assert "S000" in screen_text(app)

        # the first fill again, watched step by step: a screenful now, the rest after a frame
        table.clear()
        table.rows_data = list(app.last_data["watchlist"])
        assert table.row_count == SIZE[1]
        assert [r.key.value for r in table.ordered_rows] == wanted[: SIZE[1]]
        assert table.virtual_size.height == full_height  # the scroll bar as for every row
        await pilot.pause()
        assert [r.key.value for r in table.ordered_rows] == wanted
        assert str(table.get_row("S069")[0]) == "S069"  # its cells too, not just its key
        assert table.virtual_size.height == full_height

        # new rows before the rest was filled: the table follows them, and the pending fill
        # after the frame changes nothing
        table.clear()
        rows = list(app.last_data["watchlist"])
        table.rows_data = rows
        table.rows_data = rows[::-1]
        assert [r.key.value for r in table.ordered_rows] == wanted[::-1]
        await pilot.pause()
        assert [r.key.value for r in table.ordered_rows] == wanted[::-1]


@sync
async def test_the_tables_have_their_final_width_before_the_first_snapshot(home, db, monkeypatch):
    """The status header and the right-hand panels wait for the first snapshot hidden but in
    the layout: showing them changes no table's width, so no table is rebuilt for the columns
    a narrower panel leaves out and the first frame with data is the only full layout."""
    import tui.app
    import tui.screens.dashboard

    monkeypatch.setattr(tui.screens.dashboard, "REVEAL_AFTER_S", 3600.0)
    # a first read that has not landed yet (a slow one): nothing is read
    monkeypatch.setattr(tui.app.TradingApp, "reload_dashboard", lambda self: None)
    fill(db, NAMES[:5], sessions=40, predict_last=3, horizons=(1,), job=False)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, tui.screens.dashboard.DashboardScreen)
        table = screen.query_one("#watchlist", WatchlistTable)
        assert "Regimes" not in screen_text(app)  # the right-hand panels not shown yet
        before = (table.size.width, table.hidden)
        screen.reveal()
        await pilot.pause()
        assert "Regimes" in screen_text(app)
        assert (table.size.width, table.hidden) == before
        assert 0 < before[0] < SIZE[0] - 40  # the left panel's width, not the screen's
