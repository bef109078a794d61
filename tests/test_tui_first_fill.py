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


@sync
async def test_the_dashboard_paints_no_frame_before_its_first_snapshot(home, db, monkeypatch):
    """The screen is laid out while the first read runs but painted only once the snapshot
    is in (a frame of the empty dashboard cost as much as the first one with data), and
    the right-hand panels go in after that first frame. Each frame is seen as the
    benchmark sees it (Textual's screen refresh, wrapped)."""
    from textual.screen import Screen

    import tui.app
    import tui.screens.dashboard

    monkeypatch.setattr(tui.screens.dashboard, "REVEAL_AFTER_S", 3600.0)
    reads = tui.app.TradingApp.reload_dashboard
    # the first read waits for the test's word: the screen is mounted and laid out first
    monkeypatch.setattr(tui.app.TradingApp, "reload_dashboard", lambda self: None)
    fill(db, NAMES[:5], sessions=40, predict_last=3, horizons=(1,), job=False)
    # (snapshots applied, watchlist rows, right-hand panels) at each frame
    frames: list[tuple[int, int, int]] = []
    paint = Screen._compositor_refresh

    def seen(screen: Screen[object]) -> None:
        if isinstance(screen, tui.screens.dashboard.DashboardScreen):
            rows = screen.query_one("#watchlist", WatchlistTable).row_count
            frames.append((app.loads, rows, len(screen.query_one("#right").children)))
        paint(screen)

    monkeypatch.setattr(Screen, "_compositor_refresh", seen)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, tui.screens.dashboard.DashboardScreen)
        assert screen.query_one("#watchlist", WatchlistTable).size.width > 0  # laid out
        assert frames == []  # ...and not painted
        width = screen.query_one("#watchlist", WatchlistTable).size.width
        reads(app)
        await settle(pilot)
        assert app.loads == 1
        # the right-hand panels came after the first frame, with their data, and the
        # watchlist kept its width
        text = screen_text(app)
        assert "hit rate %" in text and "Regimes" in text and "Commands" in text
        assert screen.query_one("#watchlist", WatchlistTable).size.width == width
    # the first frame has the snapshot's rows, not yet the right-hand panels
    assert frames and frames[0] == (1, 5, 0)
    assert frames[-1][2] > 0


@sync
async def test_a_read_slower_than_the_reveal_paints_the_screen_as_it_is(home, db, monkeypatch):
    from textual.screen import Screen

    import tui.app
    import tui.screens.dashboard

    monkeypatch.setattr(tui.screens.dashboard, "REVEAL_AFTER_S", 0.01)
    monkeypatch.setattr(tui.app.TradingApp, "reload_dashboard", lambda self: None)
    frames: list[int] = []
    paint = Screen._compositor_refresh

    def seen(screen: Screen[object]) -> None:
        if isinstance(screen, tui.screens.dashboard.DashboardScreen):
            frames.append(app.loads)
        paint(screen)

    monkeypatch.setattr(Screen, "_compositor_refresh", seen)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):  # the reveal timer's frame (no read ever lands here)
            await pilot.pause(0.01)
            if frames:
                break
    assert frames and frames[0] == 0
