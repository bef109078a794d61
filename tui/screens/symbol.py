"""One symbol: price chart with predictions and outcomes, the latest call's signals, history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from store.views import SymbolDetail
from tui.keys import SYMBOL_KEYS
from tui.messages import DetailWanted, EnqueueCommand
from tui.screens import composed_or_retry
from tui.widgets.history import HistoryTable
from tui.widgets.price_chart import PriceChart
from tui.widgets.signals import SignalBars
from vocab.commands import Predict, Retrain


class SymbolScreen(Screen):
    BINDINGS = [Binding(k, a, label) for k, a, label, _ in SYMBOL_KEYS]

    # repaint=False: the widgets the data reaches repaint themselves; a repaint of the
    # whole screen would re-render every visible table cell on each refresh
    detail: reactive[SymbolDetail | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{self.symbol}  loading…", style="bold"), id="symbol-title")
        with Horizontal(id="symbol-top"):
            yield PriceChart(id="price")
            yield SignalBars(id="signals")
        yield Static("", id="symbol-news")
        yield Static("Prediction history (newest first)", classes="panel-title")
        yield HistoryTable(id="history")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(HistoryTable).focus()
        self.post_message(DetailWanted(self.symbol))

    def watch_detail(self, detail: SymbolDetail | None) -> None:
        if not detail:
            return
        if not composed_or_retry(self, self.watch_detail, detail):
            return
        title = Text(f"{self.symbol}", style="bold")
        bars = detail["bars"]
        if bars:
            title.append(f"  last close {bars[-1]['close']:,.2f} on {bars[-1]['date']}")
        if detail["n"] and detail["hit_rate"] is not None and detail["baseline"] is not None:
            title.append(
                f"  hit rate {detail['hit_rate'] * 100:.0f}% vs {detail['baseline_name']} "
                f"{detail['baseline'] * 100:.0f}% over its last {detail['n']} UP/DOWN calls"
            )
        else:
            title.append("  no verified calls yet", style="dim")
        self.query_one("#symbol-title", Static).update(title)
        self._show_news(detail)
        self.query_one(PriceChart).detail = detail
        self.query_one(SignalBars).detail = detail
        self.query_one(HistoryTable).rows_data = detail["history"]

    def _show_news(self, detail: SymbolDetail) -> None:
        """What the latest call saw (VIX, the next event, news) and the recent headlines with
        their lexicon sentiment; hidden while nothing of it is stored."""
        panel = self.query_one("#symbol-news", Static)
        items = detail["news"]
        line = detail["context_line"]
        panel.display = bool(items or line)
        if not panel.display:
            return
        text = Text()
        if line and detail["context"]:
            text.append(f"Context of the call as of {detail['context']['as_of']}: ", style="bold")
            text.append(line)
        if items:
            days, needed = detail["news_days"], detail["news_needed_days"]
            text.append("\n" if line else "")
            text.append("Headlines", style="bold")
            text.append(
                f"  (shown, not used by the models: {days} of the {needed} days of stored "
                "headlines they need)",
                style="dim",
            )
        for item in items:
            s = float(item["sentiment"])
            style = "green" if s > 0 else "red" if s < 0 else "dim"
            text.append(f"\n{item['published_at'][:16].replace('T', ' ')}  ")
            text.append(f"{s:+.2f}", style=style)
            text.append(f"  {item['title']}")
            if item["publisher"]:
                text.append(f"  — {item['publisher']}", style="dim")
        panel.update(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_retrain(self) -> None:
        self.post_message(EnqueueCommand(Retrain((self.symbol,))))

    def action_predict(self) -> None:
        self.post_message(EnqueueCommand(Predict((self.symbol,))))
