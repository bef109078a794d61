"""One symbol: price chart with predictions and outcomes, the latest call's signals, history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from store.views.symbol import SymbolDetail
from tui.keys import SYMBOL_KEYS
from tui.messages import DetailWanted, EnqueueCommand
from tui.screens import composed_or_retry
from tui.widgets import fmt
from tui.widgets.history import HistoryTable
from tui.widgets.keybar import KeyBar
from tui.widgets.price_chart import PriceChart
from tui.widgets.signals import SignalBars
from tui.widgets.title import Title
from vocab.commands import Predict, Retrain
from vocab.market import describe
from vocab.scoring import BASELINE_LABEL


def headline(symbol: str, detail: SymbolDetail) -> Text:
    """The screen's two title lines: the close, the regime and the hit rate, then what the
    dashboard's narrow columns leave out (the range's coverage, the rank, the model)."""
    title = Text(symbol, style="bold")
    bars = detail["bars"]
    if bars:
        title.append(f"  last close {bars[-1]['close']:,.2f} on {bars[-1]['date']}")
        if len(bars) > 1 and bars[-2]["close"]:
            title.append(" (")
            title.append_text(fmt.signed((bars[-1]["close"] / bars[-2]["close"] - 1) * 100))
            title.append(")")
    regime = detail["regime"]
    if regime:
        title.append("  ")
        title.append_text(fmt.regime(regime["regime"]))
        title.append(f" for {'≥' if regime['at_least'] else ''}{regime['sessions']} sessions")
    verified = sum(h["status"] == "verified" for h in detail["history"])
    if detail["n"] and detail["hit_rate"] is not None and detail["baseline"] is not None:
        title.append(
            f"  hit rate {detail['hit_rate'] * 100:.0f}% vs {BASELINE_LABEL[detail['baseline_name']]} "
            f"{detail['baseline'] * 100:.0f}% (n={detail['n']})"
        )
    elif verified:  # verified rows below, every one a no call: no hit rate to give
        title.append(f"  no hit rate yet ({verified} verified, all no call)", style="dim")
    else:
        title.append("  no verified calls yet", style="dim")
    rest = []
    quote = detail.get("live")
    if quote:  # the dashboard's Live and Today columns, said in full
        when = quote["at"][11:16]
        rest.append(
            f"live {fmt.live_move(quote).plain}"
            + ("" if quote["state"] == "stale" else f" {fmt.live_band(quote).plain}")
            + f" ({quote['price']:,.2f} at {when} UTC"
            + (", closed)" if quote["state"] == "closed" else ")")
        )
    if detail["coverage80"] is not None:
        rest.append(f"80% range held {fmt.coverage(detail['coverage80'], detail['n80'])}")
    if detail["ranking"]:
        rest.append(f"rank {fmt.rank(detail['ranking']).plain}")
    if detail["latest"]:
        latest = detail["latest"]
        rest.append(f"latest call {fmt.call(latest).plain}, conf {fmt.confidence(latest)}")
        rest.append(f"model {latest['model_version']}")
    if rest:
        title.append("\n" + " · ".join(rest))
    return title


class SymbolScreen(Screen[None]):
    BINDINGS = [Binding(k, a, label) for k, a, label, _ in SYMBOL_KEYS]

    # repaint=False: the widgets the data reaches repaint themselves; a repaint of the
    # whole screen would re-render every visible table cell on each refresh
    detail: reactive[SymbolDetail | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol

    def compose(self) -> ComposeResult:
        yield Title(Text(f"{self.symbol}  loading…", style="bold"), id="symbol-title")
        with Horizontal(id="symbol-top"):
            yield PriceChart(id="price")
            yield SignalBars(id="signals")
        yield Static("", id="symbol-news")
        yield Title("Prediction history (newest first)", classes="panel-title", id="history-title")
        yield HistoryTable(id="history")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(HistoryTable)
        table.focus()
        self.watch(table, "hidden", self._history_title)
        self.post_message(DetailWanted(self.symbol))

    def _history_title(self, hidden: tuple[str, ...]) -> None:
        """The history's title, and which columns a wider terminal would add."""
        more = f" · wider terminal for {', '.join(hidden)}" if hidden else ""
        self.query_one("#history-title", Static).update(f"Prediction history (newest first){more}")

    def watch_detail(self, detail: SymbolDetail | None) -> None:
        if not detail:
            return
        if not composed_or_retry(self, self.watch_detail, detail):
            return
        self.query_one("#symbol-title", Static).update(headline(self.symbol, detail))
        self._show_news(detail)
        self.query_one(PriceChart).detail = detail
        self.query_one(SignalBars).detail = detail
        self.query_one(HistoryTable).rows_data = detail["history"]

    def _show_news(self, detail: SymbolDetail) -> None:
        """What the latest call saw (VIX, the next event, news) and the recent headlines with
        their lexicon sentiment; hidden while nothing of it is stored."""
        panel = self.query_one("#symbol-news", Static)
        items = detail["news"]
        line = describe(detail["context"]) if detail["context"] else ""
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
