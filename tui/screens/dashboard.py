"""The dashboard: daemon header, watchlist, pending predictions, accuracy trend, regimes, queue.

The app sets `data` (one snapshot from store.views.dashboard.dashboard); the screen hands each
region its slice. Key actions post `EnqueueCommand` / `OpenSymbol` messages up to the app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static

from store.views.dashboard import Dashboard
from store.views.watchlist import WatchRow
from tui.keys import DASHBOARD_KEYS
from tui.messages import EnqueueCommand, OpenSymbol
from tui.screens import composed_or_retry
from tui.screens.modals import AddTickerScreen, ConfirmScreen
from tui.widgets.commands import CommandsTable
from tui.widgets.commands import title as commands_title
from tui.widgets.equity import EquityChart
from tui.widgets.equity import title_of as paper_title
from tui.widgets.fmt import set_static
from tui.widgets.keybar import KeyBar
from tui.widgets.pending import PendingTable
from tui.widgets.pending import title as pending_title
from tui.widgets.regimes import RegimeTable, market_line
from tui.widgets.status import StatusHeader
from tui.widgets.title import Title
from tui.widgets.trend import TrendChart, title_of
from tui.widgets.watchlist import WatchlistTable
from vocab.commands import Collect, Predict, Retrain, WatchAdd, WatchRemove
from vocab.scoring import edge_line

REVEAL_AFTER_S = 1.0  # the longest the screen waits for its first snapshot before showing


def off_reason(symbol: str, reason: str) -> str:
    """Why a symbol left the watchlist, what to do first: a narrow panel cuts the line at its
    end, which then loses the collector's last answer, not the way back."""
    again = f"; `assistant watch add {symbol}` to try again"
    if not reason.endswith(again):
        return f": {reason}"
    why = reason[: -len(again)].removeprefix("deactivated: ")
    return f": `assistant watch add {symbol}` to retry · {why}"


def live_line(rows: list[WatchRow]) -> str | None:
    """When the live column's quotes are from, and what is off about them (stale ones,
    prices outside today's 95% range)."""
    quotes = [r["live"] for r in rows if r["live"]]
    if not quotes:
        return None
    newest = max(q["at"] for q in quotes)
    line = f"Live {newest[:16].replace('T', ' ')} UTC"
    if all(q["state"] == "closed" for q in quotes):
        line += ", session closed"
    stale = [q["symbol"] for q in quotes if q["state"] == "stale"]
    out = [q["symbol"] for q in quotes if q["band"] == "outside95" and q["state"] != "stale"]
    if stale:
        line += f" · STALE {', '.join(stale[:4])}{'…' if len(stale) > 4 else ''}"
    if out:
        line += f" · OUT 95% {', '.join(out[:4])}{'…' if len(out) > 4 else ''}"
    return line


class DashboardScreen(Screen[None]):
    BINDINGS = [Binding(k, a, label) for k, a, label, _ in DASHBOARD_KEYS]

    # repaint=False: the widgets the data reaches repaint themselves; a repaint of the
    # whole screen would re-render every visible table cell on each refresh
    data: reactive[Dashboard | None] = reactive(None, always_update=True, repaint=False)

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        heartbeat_seconds: float,
        report: str = "assistant report",
    ) -> None:
        super().__init__()
        self.clock, self.heartbeat_seconds, self.report = clock, heartbeat_seconds, report
        self._painting = False  # no frame before the first snapshot (or reveal): see below

    def compose(self) -> ComposeResult:
        yield StatusHeader(
            clock=self.clock,
            heartbeat_seconds=self.heartbeat_seconds,
            report=self.report,
            id="status",
        )
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Title("Watchlist", classes="panel-title", id="watchlist-title")
                yield WatchlistTable(id="watchlist")
                yield Title("Pending predictions", classes="panel-title", id="pending-title")
                yield PendingTable(id="pending")
            # the right-hand panels go in after the first frame (compose_right)
            yield Vertical(id="right")
        yield KeyBar()

    async def compose_right(self) -> None:
        """The right-hand panels, put in once the first frame is on screen: composing,
        styling and painting them (two tables, the plotext chart) was about a fifth of the
        first frame's CPU. Their column keeps its width meanwhile (set by the CSS, not by
        its content), so the watchlist's width and columns do not change when they come."""
        right = self.query_one("#right", Vertical)
        if right.children:
            return
        await right.mount_all(
            [
                Title("Accuracy", classes="panel-title", id="trend-title"),
                TrendChart(id="trend"),
                # the paper account: hidden until the daemon has stepped it once
                Title("Paper account", classes="panel-title", id="equity-title"),
                EquityChart(id="equity"),
                Title("Regimes", classes="panel-title", id="regimes-title"),
                RegimeTable(id="regimes"),
                Title("Commands", classes="panel-title", id="commands-title"),
                CommandsTable(id="commands"),
            ]
        )
        if self.data:  # the newest snapshot, whichever came while they were mounted
            self._show_right(self.data, lambda key: True)

    def on_mount(self) -> None:
        self.query_one(WatchlistTable).focus()
        self.watch(self.query_one(WatchlistTable), "hidden", self._show_watch_title, init=False)
        self.watch(self.query_one(PendingTable), "hidden", self._show_pending_title, init=False)
        # Until the first snapshot lands nothing is painted (_compositor_refresh): no
        # "daemon offline" flash before the store is read, and no frame of the empty
        # dashboard. A first read slower than REVEAL_AFTER_S shows the screen as it is.
        # The screen is laid out meanwhile: the tables get their final size, so the first
        # snapshot's rows go in with the columns the watchlist's width leaves room for.
        self.set_timer(REVEAL_AFTER_S, self.reveal)

    def reveal(self) -> None:
        """Start painting (at the first snapshot, a failed first read, or a timeout), and put
        the right-hand panels in after that first frame."""
        if not self._painting:
            self._painting = True
            self.refresh()  # the first frame: the whole screen
            self.call_after_refresh(self.compose_right)

    def _compositor_refresh(self) -> None:
        # Until the first snapshot the screen is laid out (the tables get their width and
        # columns) but not painted: a frame of the empty dashboard cost about as much CPU as
        # the first one with data (~0.06 s at 160x45), taken from the read running meanwhile
        # (one interpreter lock), and it was on screen for a fraction of a second. Until
        # then the terminal shows the blank default screen; a read slower than
        # REVEAL_AFTER_S, or a failed one, shows the screen as it is (reveal). This
        # overrides Textual's private paint step (textual is pinned in constraints.txt;
        # tests/test_tui_first_fill.py counts the frames and fails if it stops applying).
        if self._painting:
            super()._compositor_refresh()
        else:
            self._dirty_widgets.clear()  # (painted in full at reveal: nothing to keep)

    def watch_data(self, data: Dashboard | None) -> None:
        if not data:
            return
        if not composed_or_retry(self, self.watch_data, data):
            return
        self.reveal()
        previous: Mapping[str, object] = getattr(self, "_applied", {})
        current: Mapping[str, object] = data
        self._applied = data

        def changed(key: str) -> bool:  # hand a region its slice only when that slice changed
            return key not in previous or previous[key] != current[key]

        status = self.query_one(StatusHeader)
        if changed("daemon"):
            status.daemon_row = (
                data["daemon"] if data["daemon"]["heartbeat_at"] or data["daemon"]["mode"] else None
            )
        if changed("jobs"):
            status.jobs = data["jobs"]
        status.queued = data["queued"]
        status.alerts_failed = data["alerts_failed"]
        if changed("watchlist") or changed("deactivated") or changed("quarantined"):
            table = self.query_one(WatchlistTable)
            table.live = any(r["live"] for r in data["watchlist"])
            table.rows_data = data["watchlist"]
            watched = len(data["watchlist"])
            stale = [r["symbol"] for r in data["watchlist"] if r["stale_sessions"]]
            title = (
                f"Watchlist ({watched} symbol{'s' if watched != 1 else ''})"
                if watched
                else "Watchlist is empty: press a to add a ticker"
            )
            # each notice gets a line of its own, fitted to the panel (tui.widgets.title)
            edge = edge_line([r["call"]["direction"] for r in data["watchlist"] if r["call"]])
            if edge:
                title += f"\n{edge}"
            for q in data["quarantined"]:  # the previous model serves: say so
                title += f"\nQUARANTINED: {q['id']} ({q['serves'] or 'no model'} serves)"
            if stale:
                oldest = max(r["stale_sessions"] for r in data["watchlist"])
                # collecting cannot refresh the bundled sample: say what works instead
                hint = (
                    "the sample ends there: `assistant demo`"
                    if data["stale_sources"] == ["sample"]
                    else "press c to collect"
                )
                title += (
                    f"\nSTALE DATA: {', '.join(stale[:4])}{'…' if len(stale) > 4 else ''} "
                    f"(newest bar up to {oldest} sessions old; {hint})"
                )
            live = live_line(data["watchlist"])
            if live:
                title += f"\n{live}"
            for off in data["deactivated"][:2]:  # why a symbol left the table
                title += f"\n{off['symbol']} OFF THE LIST{off_reason(off['symbol'], off['reason'])}"
            self._watch_title = title
            self._show_watch_title()
        if changed("pending"):
            self.query_one(PendingTable).rows_data = data["pending"]
            self._show_pending_title()
        if self.query_one("#right").children:  # (else they get the data when they come)
            self._show_right(data, changed)

    def _show_right(self, data: Dashboard, changed: Callable[[str], bool]) -> None:
        """The right-hand panels' slices of the snapshot (those `changed` says changed)."""
        if changed("trend"):
            self.query_one(TrendChart).trend = data["trend"]
            set_static(self.query_one("#trend-title", Static), title_of(data["trend"]))
        if changed("paper"):
            account = data["paper"]
            head, chart = self.query_one("#equity-title", Static), self.query_one(EquityChart)
            head.display = chart.display = bool(account)
            if account:
                chart.account = account
                set_static(head, paper_title(account))
        if changed("regimes"):
            self.query_one(RegimeTable).rows_data = data["regimes"]
        if changed("context"):  # what the newest calls saw: VIX, the next scheduled event
            line = market_line(data["context"]) if data["context"] else ""
            set_static(
                self.query_one("#regimes-title", Static),
                "Regimes" + (f" · {line}" if line else ""),
            )
        if changed("commands"):
            self.query_one(CommandsTable).rows_data = data["commands"]
        if changed("commands") or changed("jobs"):
            set_static(
                self.query_one("#commands-title", Static),
                commands_title(data["commands"], data["jobs"]),
            )

    def _show_watch_title(self) -> None:
        """The watchlist's title, with the columns a narrow screen leaves out (the symbol
        screen shows them: enter)."""
        title = getattr(self, "_watch_title", None)
        if title is None:
            return
        hidden = self.query_one(WatchlistTable).left_out
        if hidden and title.startswith("Watchlist ("):
            head, _, rest = title.partition("\n")
            head = head.replace(")", f"; enter shows {len(hidden)} more columns)", 1)
            title = f"{head}\n{rest}" if rest else head
        set_static(self.query_one("#watchlist-title", Static), title, layout=True)

    def _show_pending_title(self) -> None:
        if self.data is not None:
            hidden = self.query_one(PendingTable).hidden
            set_static(
                self.query_one("#pending-title", Static),
                pending_title(self.data["pending"], hidden),
            )

    @property
    def selected_symbol(self) -> str | None:
        return self.query_one(WatchlistTable).selected_symbol

    def _need_selection(self) -> str | None:
        symbol = self.selected_symbol
        if symbol is None:
            self.notify("the watchlist is empty: press a to add a ticker", severity="warning")
        return symbol

    def action_add(self) -> None:
        watched = {r["symbol"] for r in self.data["watchlist"]} if self.data else set()

        def done(symbol: str | None) -> None:
            if symbol:
                self.post_message(EnqueueCommand(WatchAdd((symbol,))))

        self.app.push_screen(AddTickerScreen(watched), done)

    def action_remove(self) -> None:
        symbol = self._need_selection()
        if symbol is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.post_message(EnqueueCommand(WatchRemove((symbol,))))

        self.app.push_screen(
            ConfirmScreen(
                f"Remove {symbol} from the watchlist? Its bars and predictions stay as history."
            ),
            done,
        )

    def action_retrain(self) -> None:
        symbol = self._need_selection()
        if symbol:
            self.post_message(EnqueueCommand(Retrain((symbol,))))

    def action_retrain_all(self) -> None:
        self.post_message(EnqueueCommand(Retrain()))

    def action_predict(self) -> None:
        self.post_message(EnqueueCommand(Predict()))

    def action_collect(self) -> None:
        self.post_message(EnqueueCommand(Collect()))

    def action_details(self) -> None:
        symbol = self._need_selection()
        if symbol:
            self.post_message(OpenSymbol(symbol))

    @on(DataTable.RowSelected, "#watchlist")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:  # every watchlist row is keyed by its symbol
            self.post_message(OpenSymbol(event.row_key.value))
