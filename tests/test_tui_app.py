"""The real TUI driven through Pilot on a real SQLite home: what the user sees and what gets queued."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from store import commands
from store.db import connect, open_db
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync, wait_for
from tui.app import make_app
from tui.keys import APP_KEYS, DASHBOARD_KEYS, help_lines
from vocab import commands as cmd

SIZE = (160, 45)
WIDE = (200, 50)  # every column of every table on screen


@pytest.fixture
def filled(home, db):
    fill(db)
    return home


def app_for(home, **kw):
    return make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05, **kw)


def queued(home) -> list[cmd.Command]:
    """The queued commands, oldest first, as the daemon will read them."""
    db = connect(home / "assistant.db")
    try:
        return [cmd.parse(r["kind"], r["args"]) for r in reversed(commands.recent(db, 50))]
    finally:
        db.close()


@sync
async def test_dashboard_shows_daemon_watchlist_pending_trend_and_regimes(filled):
    app = app_for(filled)
    async with app.run_test(size=WIDE) as pilot:  # the hit-rate column follows Rank
        await settle(pilot)
        text = screen_text(app)
    assert "daemon online" in text and "mode replay" in text and "simulated date 2018-06-29" in text
    assert "heartbeat 2s ago" in text and "DAEMON OFFLINE" not in text
    assert re.search(r"train +━+╸?━* +45% lstm epoch 14/30", text)  # the running job and its bar
    for sym in ("AAPL", "^GSPC", "^IXIC"):
        assert sym in text
    assert (
        "164.35" in text and "+1.26%" in text and "bullish" in text
    )  # AAPL last close, change, regime
    assert (
        "▲ +0.80% 1d" in text
    )  # AAPL's latest call (its model: the last column, off-screen at 160)
    assert "50% n=50" in text  # rolling hit rate over the last 50 verified calls
    assert "Pending predictions (18 shown" in text and "165.67 on 2018-07-02" in text
    # accuracy trend title: UP/DOWN calls vs the stronger baseline on the same calls, with n
    assert "Hit 50.0% vs always-up 50.2% (same calls, n=480)" in text
    assert "10 sess" in text  # AAPL has been bullish for 10 stored sessions
    assert queued(filled) == []  # looking writes nothing


@sync
async def test_watchlist_and_pending_show_the_80_percent_range_and_its_realized_coverage(filled):
    app = app_for(filled)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "80% range" in text and "In 80%" in text  # the columns are labelled
    # AAPL's latest call (as of 2018-06-29, base 164.35): 80% range 161.06..167.64 of the
    # target close; its last 50 verified calls landed inside it 39 times
    assert re.search(r"AAPL .*▲ \+0\.80% 1d .*161\.1–167\.6 +78% n=50 +— +50% n=50", text)
    # the pending call carries the same range in the pending table
    assert re.search(r"AAPL +2018-06-29 +1d .*165\.67 on 2018-07-02 +161\.1–167\.6", text)


@sync
async def test_offline_banner_and_commands_wait_in_the_queue(home, db):
    fill(db, heartbeat_age_s=16)  # > 3 x 5 s heartbeat interval
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "daemon offline" in text and "DAEMON OFFLINE (no heartbeat for over 15s)" in text
        assert "commands wait in the queue" in text
        await pilot.press("c")
        await wait_for(pilot, lambda: "collect all" in screen_text(app))
        text = screen_text(app)
        assert "queued" in text and "1 command(s) queued" in text
    assert queued(home) == [cmd.Collect()]


@sync
async def test_banner_when_the_daemon_never_ran_or_stopped(home, db):
    fill(db, daemon=None)
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "DAEMON OFFLINE (the daemon has never run here)" in screen_text(app)
        db.execute(
            "INSERT INTO daemon (id, pid, heartbeat_at, stopped_at, mode) VALUES (1, 9, ?, ?, 'live')",
            [FIXED_NOW.isoformat(), FIXED_NOW.isoformat()],
        )
        db.conn.commit()
        assert await wait_for(
            pilot, lambda: "DAEMON OFFLINE (the daemon stopped)" in screen_text(app)
        )


@sync
async def test_banner_appears_when_heartbeats_stop_without_any_write(filled):
    now = [FIXED_NOW]
    app = make_app(filled, clock=lambda: now[0], poll_seconds=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "daemon online" in screen_text(app)
        now[0] = FIXED_NOW + timedelta(seconds=30)  # the daemon died: nothing is written any more
        assert await wait_for(
            pilot, lambda: "DAEMON OFFLINE (no heartbeat for over 15s)" in screen_text(app)
        )


@sync
async def test_add_ticker_queues_watch_add(filled):
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        assert "Add a ticker" in screen_text(app)
        await pilot.press(*"brk-b", "enter")
        assert await wait_for(pilot, lambda: "watch.add BRK-B" in screen_text(app))
        assert "Add a ticker" not in screen_text(app)
    assert queued(filled) == [cmd.WatchAdd(("BRK-B",))]


@pytest.mark.parametrize(
    "typed, message",
    [
        ("A B", "error: symbol 'A B' is not a ticker"),
        ("DROP TABLE;", "error: symbol 'DROP TABLE;' is not a ticker"),
        ("aapl", "AAPL is already on the watchlist"),
    ],
)
@sync
async def test_invalid_ticker_keeps_the_modal_open_and_queues_nothing(filled, typed, message):
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", *typed, "enter")
        await settle(pilot)
        text = screen_text(app)
        assert message in text and "Add a ticker" in text  # still open, reason shown
        await pilot.press("escape")
        await settle(pilot)
        assert "Add a ticker" not in screen_text(app)
    assert queued(filled) == []


@sync
async def test_remove_asks_first_and_queues_only_on_yes(filled):
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")  # ^GSPC
        await pilot.press("x")
        assert "Remove ^GSPC from the watchlist?" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert queued(filled) == []
        await pilot.press("x", "y")
        assert await wait_for(pilot, lambda: "watch.remove ^GSPC" in screen_text(app))
    assert queued(filled) == [cmd.WatchRemove(("^GSPC",))]


@sync
async def test_retrain_shows_queued_running_done_from_the_commands_row(filled):
    app = app_for(filled)
    daemon_side = connect(filled / "assistant.db")  # stands in for the daemon's own connection
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        # `r` on AAPL retrains the watchlist's models: the commands row says so.
        queued_row = "retrain all (asked on AAPL) — queued"
        assert await wait_for(pilot, lambda: queued_row in screen_text(app))
        assert "retrain AAPL" not in screen_text(app)
        claimed = commands.claim_next(daemon_side)
        assert claimed is not None and claimed.command == cmd.Retrain(("AAPL",))
        assert await wait_for(pilot, lambda: "running" in screen_text(app).split("Commands")[-1])
        report = {
            "results": [
                {"kind": "lstm", "promoted": True, "status": "ok"},
                {"kind": "gru", "promoted": True, "status": "ok"},
                {"kind": "xgboost", "promoted": False, "status": "failed"},
            ]
        }
        commands.finish(daemon_side, claimed.id, result=cmd.Retrained(report))
        # The row reads as a sentence, not as JSON (the duration is the claim-to-finish time:
        # a loaded machine can take seconds between the two).
        assert await wait_for(
            pilot,
            lambda: (
                re.search(
                    r"retrain all — done in \d+ s, 2 models promoted, 1 failed",
                    screen_text(app).split("Commands")[-1],
                )
                is not None
            ),
        )
        assert "{" not in screen_text(app).split("Commands")[-1]
        bad = commands.enqueue(daemon_side, cmd.Collect(("AAPL",)))
        commands.claim_next(daemon_side)
        commands.finish(daemon_side, bad, error="every symbol failed: AAPL: timed out")
        assert await wait_for(
            pilot,
            lambda: "collect AAPL — failed: every symbol failed" in screen_text(app),
        )
        await pilot.press("R")
        assert await wait_for(pilot, lambda: "retrain all — queued" in screen_text(app))
    daemon_side.close()
    assert queued(filled) == [cmd.Retrain(("AAPL",)), cmd.Collect(("AAPL",)), cmd.Retrain()]


@sync
async def test_predict_and_collect_now(filled):
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await pilot.press("c")
        assert await wait_for(
            pilot, lambda: "predict all" in screen_text(app) and "collect all" in screen_text(app)
        )
    assert queued(filled) == [cmd.Predict(), cmd.Collect()]


@sync
async def test_enter_opens_the_symbol_screen_with_chart_signals_and_history(filled):
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "AAPL  last close 164.35 on 2018-06-29" in text
        assert "AAPL close and predictions" in text and "hit" in text and "pending" in text
        # the pending calls' 80% and 95% ranges are drawn as a fan to their target dates
        assert "⢕⢕ 95% range" in text and "⢕⢕ 80% range" in text
        assert "Latest call: as of 2018-06-29, 1d, up +0.80%" in text
        assert "rsi -0.500" in text and "regime +0.500" in text
        assert (
            "2018-06-28  1d  no call 1d" in text and "164.35" in text
        )  # a verified row with outcome
        # each call's 80% range, and whether the close landed inside it once verified
        assert re.search(r"2018-06-22 +5d .*159\.82 +157\.0–163\.4 +164\.35 .*miss +outside", text)
        assert re.search(r"2018-06-27 +1d .*161\.85 +159\.3–165\.8 +162\.31 .*hit +inside", text)
        assert re.search(r"2018-06-29 +1d .*165\.67 +161\.1–167\.6 +— .*pending +—", text)
        await pilot.press("r")  # retrain from the symbol screen targets this symbol
        assert await wait_for(pilot, lambda: len(queued(filled)) == 1)
        await pilot.press("escape")
        await settle(pilot)
        assert "Watchlist (3 symbols" in screen_text(app)
    assert queued(filled) == [cmd.Retrain(("AAPL",))]


@sync
async def test_help_lists_every_key(filled):
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = screen_text(app)
        for key, what in help_lines():
            assert re.search(rf"{re.escape(key)}\s+{re.escape(what)}", text), key
        for binding in list(app.dashboard.BINDINGS) + list(app.BINDINGS):
            assert any(k.strip() == binding.key for k, *_ in DASHBOARD_KEYS + APP_KEYS)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


@sync
async def test_store_changes_update_cells_in_place(filled):
    app = app_for(filled)
    writer = open_db(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#watchlist")
        await pilot.press("down")
        rows_before = list(table.rows)
        writer.execute(
            "UPDATE bars SET close = 170.0 WHERE symbol = 'AAPL' AND date = '2018-06-29'"
        )
        writer.conn.commit()
        assert await wait_for(pilot, lambda: "170.00" in screen_text(app))
        assert list(table.rows) == rows_before  # same row objects: updated, not rebuilt
        assert table.cursor_row == 1  # the user's selection survived the refresh
    writer.close()


@sync
async def test_another_connections_calls_verifications_and_removals_reach_the_screen(filled):
    # The tables change only the rows whose data changed (and repaint only those): what the
    # screen shows after each commit by another connection must be the new text.
    from store import predictions, symbols
    from store.db import immediate

    app = app_for(filled)
    writer = open_db(filled)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert re.search(r"AAPL +164\.35 .*▲ \+0\.80% 1d +70% +161\.1–167\.6", text)
        assert "Pending predictions (18 shown" in text and "n=480)" in text

        # a newer call for AAPL (a later model at the same session): the latest call
        with immediate(writer):
            predictions.insert_many(
                writer,
                [
                    ("AAPL", "2018-06-29", 1, "ensemble-4", "2018-06-29T21:30:00+00:00")
                    + ("2018-07-02", 164.35, -1.23, 162.33, 160.02, 164.91, None, None, None)
                    + (0.3, 0.06, 0.64, "down", 0.64, "bullish", "{}")
                ],
            )
        assert await wait_for(pilot, lambda: "Pending predictions (19 shown" in screen_text(app))
        text = screen_text(app)
        assert re.search(r"AAPL +164\.35 .*▼ -1\.23% 1d +64% +160\.0–164\.9", text)
        assert re.search(r"AAPL +2018-06-29 +1d +▼ -1\.23% 1d +162\.33 on 2018-07-02", text)
        assert "▲ +0.80% 1d   70%" not in text  # the old call left the watchlist row
        # and once more on the row just repainted (its cached render must not come back)
        with immediate(writer):
            predictions.insert_many(
                writer,
                [
                    ("AAPL", "2018-06-29", 1, "ensemble-5", "2018-06-29T21:45:00+00:00")
                    + ("2018-07-02", 164.35, 2.34, 168.2, 165.03, 171.24, None, None, None)
                    + (0.71, 0.05, 0.24, "up", 0.71, "bullish", "{}")
                ],
            )
        assert await wait_for(pilot, lambda: "Pending predictions (20 shown" in screen_text(app))
        text = screen_text(app)
        assert re.search(r"AAPL +164\.35 .*▲ \+2\.34% 1d +71% +165\.0–171\.2", text)
        assert "▼ -1.23% 1d   64%" not in text

        # AAPL's 5-session call of 2018-06-25 verified (a hit): it leaves the pending table
        # and joins the accuracy trend's directional calls
        (call_id,) = writer.execute(
            "SELECT id FROM predictions WHERE symbol = 'AAPL' AND as_of = '2018-06-25' "
            "AND horizon = 5"
        ).fetchone()
        with immediate(writer):
            predictions.mark_verified(
                writer,
                [
                    predictions.Verdict(
                        164.0, -1.0, 1, "up", 1, 1, 1, 1, "2018-07-02T21:30:00+00:00", call_id
                    )
                ],
            )
        assert await wait_for(pilot, lambda: "Pending predictions (19 shown" in screen_text(app))
        text = screen_text(app)
        assert "n=481)" in text and "n=480)" not in text
        assert not re.search(r"AAPL +2018-06-25 +5d", text)

        # ^IXIC taken off the watchlist: its rows leave the watchlist and the regimes
        assert re.search(r"\^IXIC +138\.49", text) and re.search(r"\^IXIC +sideways +1 sess", text)
        symbols.remove(writer, "^IXIC")
        assert await wait_for(pilot, lambda: "Watchlist (2 symbols)" in screen_text(app))
        text = screen_text(app)
        assert not re.search(r"\^IXIC +138\.49", text)
        assert not re.search(r"\^IXIC +sideways", text)
        assert re.search(r"\^GSPC +106\.94", text) and re.search(r"\^GSPC +sideways +2 sess", text)
    writer.close()


@sync
async def test_table_cells_laid_out_directly_match_the_datatables_own_rendering(filled):
    # The tables lay out one-line cells themselves (a full paint's biggest cost); every
    # cell of the dashboard, under the cursor, hovered or neither, must come out as the
    # characters and styles DataTable's generic rendering gives.
    from textual.widgets import DataTable

    from tui.widgets.tables import RowsTable

    def chars(lines):
        return [[(ch, seg.style) for seg in line for ch in seg.text] for line in lines]

    app = app_for(filled)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        compared = 0
        for table in app.screen.query(RowsTable):
            for r in range(table.row_count):
                style = table._get_row_style(r, table.rich_style)
                for c, column in enumerate(table.ordered_columns):
                    width = column.get_render_width(table)
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        table._cell_render_cache.clear()
                        ours = table._render_cell(r, c, style, width, cursor, hover)
                        table._cell_render_cache.clear()
                        generic = DataTable._render_cell(table, r, c, style, width, cursor, hover)
                        assert chars(ours) == chars(generic), (type(table).__name__, r, c)
                        compared += 1
    assert compared > 300  # watchlist, pending, regimes and commands all took part


@sync
async def test_a_command_while_another_process_holds_the_write_lock_says_why(filled, monkeypatch):
    """`p` while a `sqlite3` shell or an import held the write lock past the busy timeout:
    the keypress ended as "read failed: enqueue: OperationalError: database is locked". Now
    the notification says the command was not queued and why; once the lock is let go the
    same key queues it. (The busy timeout is cut to 0.2 s to keep the test short.)"""
    import sqlite3

    import store.db

    monkeypatch.setattr(store.db, "BUSY_TIMEOUT_S", 0.2)
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        holder = sqlite3.connect(filled / "assistant.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("p")
            said = lambda: [n.message for n in app._notifications]  # noqa: E731
            assert await wait_for(pilot, lambda: any("not queued" in m for m in said()))
            (note,) = [m for m in said() if "not queued" in m]
            assert note.startswith("predict not queued: another process has held")
            assert "write lock" in note and "read failed" not in " ".join(said())
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await pilot.press("p")
        assert await wait_for(pilot, lambda: "predict all" in screen_text(app))
    assert queued(filled) == [cmd.Predict()]


@sync
async def test_a_failed_first_read_shows_the_whole_screen(filled, monkeypatch):
    # The header and the right-hand panels wait for the first snapshot; a first read that
    # fails must show them (the fallback timer is pushed out of the test's reach).
    import tui.screens.dashboard

    monkeypatch.setattr(tui.screens.dashboard, "REVEAL_AFTER_S", 3600.0)
    db = open_db(filled)
    db.execute("DROP TABLE regimes")
    db.conn.commit()
    db.close()
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(400):  # (settle would re-raise the failed read's error)
            await pilot.pause(0.05)
            text = screen_text(app)
            if all(part in text for part in ("trading-assistant", "Accuracy", "Commands")):
                break
    assert "trading-assistant" in text and "Accuracy" in text and "Commands" in text
    assert "Watchlist (" not in text  # no snapshot was applied: the read did fail


@sync
async def test_empty_home_explains_what_to_do(home, db):
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Watchlist is empty: press a to add a ticker" in text
        assert "no verified UP/DOWN calls yet" in text
        await pilot.press("x")
        await settle(pilot)
        assert queued(home) == []


def test_importing_the_tui_does_not_import_torch_or_xgboost():
    code = (
        "import sys, tui, tui.app, tui.__main__; "
        "bad = [m for m in ('torch', 'xgboost', 'models', 'assistant') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@sync
async def test_baseline_column_and_chart_legend_name_the_baseline_they_show(home, db):
    # The causal majority scored more than always-up on these calls: the column and the
    # chart show it, so their labels must say so (not "always up").
    fill(db)
    with db.conn:
        db.execute("UPDATE predictions SET up_hit = 0, majority_hit = 1 WHERE status = 'verified'")
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        table = app.screen.query_one("#watchlist")
        headers = [str(c.label).strip() for c in table.columns.values()]
    assert "Baseline" in headers and "Always up" not in headers  # (may scroll off the screen)
    assert "vs majority 100.0%" in text  # the title
    assert "majority %" in text and "always up %" not in text  # the chart's legend


@sync
async def test_stale_data_is_counted_in_sessions_on_the_dashboard_as_in_the_cli(home, tmp_path):
    from assistant.ingest.sources.synthetic import synthetic_bars
    from store.freshness import weekdays_between
    from tests.cli_fixture import cli

    frame = synthetic_bars(300, seed=3, start="2023-11-01")
    last = frame.index[-1].strftime("%Y-%m-%d")
    out = frame.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
    out.index.name = "Date"
    out.to_csv(tmp_path / "AAA.csv", float_format="%.4f")
    for args in (("import", str(tmp_path / "AAA.csv")), ("watch", "add", "AAA")):
        done = cli(home, *args)
        assert done.returncode == 0, done.stderr
    done = cli(home, "predict")
    assert done.returncode == 0, done.stderr
    said = re.search(rf"STALE DATA: AAA's newest bar is {last}, ([\d,]+) sessions ago", done.stdout)
    assert said, done.stdout
    sessions = int(said.group(1).replace(",", ""))
    today = datetime.now().date().isoformat()
    assert sessions < weekdays_between(last, today)  # holidays since do not count
    app = make_app(home, poll_seconds=0.05)  # today's date, as the CLI's
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert f"newest bar up to {sessions} sessions old" in text, text[:400]


@sync
async def test_with_only_flat_calls_the_accuracy_panel_charts_range_coverage(filled):
    """No verified UP/DOWN call: the panel says so once and draws the ranges' realized
    coverage against 80 and 95 instead of an empty hit-rate chart; the pending rows read
    "no call" (the one wording for it), the title says once what is forecast instead."""
    db = open_db(filled)
    db.execute("UPDATE predictions SET direction = 'flat', hit = NULL")
    db.conn.commit()
    db.close()
    app = app_for(filled)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "80% range covered 75% of 582 calls (no UP/DOWN calls yet)" in text
    assert "coverage of the 80% and 95% ranges" in text
    assert "no verified" not in text  # the watchlist's hit-rate cells are "—"
    assert "in 80% range %" in text and "in 95% range %" in text  # the chart's legend
    assert "no edge" not in text  # not repeated on every row
    # no pending row calls a direction: the title says it once, the rows show target and range
    assert (
        "Pending predictions (18 shown, soonest first) · all no call: target and 80% range" in text
    )
    assert "■" not in text and not re.search(r"\d\dd +— ", text)  # no other wording for it
    assert re.search(r"AAPL +2018-06-29 +1d +no call 1d +[\d.,]+ on 2018-07-02", text)


@sync
async def test_watchlist_shows_each_symbols_rank_and_expected_relative_move(home, db):
    # six watched symbols, ranked by the ranking model as of the last session
    fill(db, names=("^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"))
    app = app_for(home)
    async with app.run_test(size=WIDE) as pilot:  # on screen at 200 columns
        await settle(pilot)
        text = screen_text(app)
    assert "Rank" in text
    # ^GSPC ranked first of six, expected +0.40% against the six's mean; MSFT last
    assert re.search(r"\^GSPC .* 1/6 \+0\.40%", text), text
    assert re.search(r"MSFT .* 6/6 -0\.60%", text), text


@sync
async def test_alerts_the_sender_gave_up_on_are_shown_on_the_dashboard(filled):
    """An alert that failed all its tries (or expired unsent) is never raised; the daemon
    line says how many in the last 24 h and where to look."""
    from store import alerts

    db = open_db(filled)
    for key in ("a", "b", "old"):
        alerts.enqueue(db, key, "calls", "t", "b")
    with db.conn:
        db.execute("UPDATE alerts SET status = 'failed', created_at = ?", [
            (FIXED_NOW - timedelta(hours=2)).isoformat(timespec="seconds")
        ])  # fmt: skip
        db.execute(
            "UPDATE alerts SET created_at = ? WHERE key = 'old'",
            [(FIXED_NOW - timedelta(days=3)).isoformat(timespec="seconds")],
        )
    db.close()
    app = app_for(filled)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "2 alert(s) not delivered in 24 h (assistant alerts list)" in text


@sync
async def test_a_restore_while_the_dashboard_runs_is_shown(filled, tmp_path):
    # The README's restore done with the dashboard open: the live files are moved aside and
    # a backup copied in. The dashboard must notice the new file and show what it holds.
    import os
    import shutil

    from store.db import backup

    copy = tmp_path / "backup.db"
    source = open_db(filled)
    backup(source, copy)
    source.close()
    edit = connect(copy)  # the backup differs from the live file: a close only it holds
    edit.execute("UPDATE bars SET close = 171.0 WHERE symbol = 'AAPL' AND date = '2018-06-29'")
    edit.conn.commit()
    edit.close()
    app = app_for(filled)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "171.00" not in screen_text(app)
        for suffix in ("", "-wal", "-shm"):
            live = filled / f"assistant.db{suffix}"
            if live.exists():
                os.replace(live, tmp_path / f"aside.db{suffix}")
        shutil.copy2(copy, filled / "assistant.db")
        assert await wait_for(pilot, lambda: "171.00" in screen_text(app))
        assert any("was replaced" in n.message for n in app._notifications)
        # And it goes on following the new file's commits.
        writer = open_db(filled)
        writer.execute(
            "UPDATE bars SET close = 172.0 WHERE symbol = 'AAPL' AND date = '2018-06-29'"
        )
        writer.conn.commit()
        writer.close()
        assert await wait_for(pilot, lambda: "172.00" in screen_text(app))


@sync
async def test_stale_sample_data_says_what_works_not_collect(home):
    """The bundled sample ends in 2013: collecting cannot refresh it, so the stale notice
    points to the demo instead of `c` (a CSV or Yahoo home keeps "press c to collect")."""
    from assistant.ingest.sources.synthetic import synthetic_bars
    from store import bars, symbols
    from store.db import immediate

    db = open_db(home)
    symbols.add(db, ["AAA"], "sample")
    with immediate(db):
        bars.upsert(db, "AAA", synthetic_bars(300, seed=3, start="2011-11-01"), "sample")
    db.close()
    app = make_app(home, poll_seconds=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "STALE DATA: AAA" in text and "sample ends there: `assistant demo`" in text, text[:600]
    assert "press c to collect" not in text
