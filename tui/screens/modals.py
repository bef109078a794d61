"""Modal dialogs: add a ticker (validated before anything is queued), confirm, and help."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from store.symbols import SymbolError, validate_symbol
from tui.keys import help_lines


class AddTickerScreen(ModalScreen[str | None]):
    """Ask for a ticker; dismiss with the normalized symbol, or None when cancelled.

    Invalid input keeps the dialog open with the reason; nothing is queued for it.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, watched: set[str]) -> None:
        super().__init__()
        self.watched = watched

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Add a ticker to the watchlist (e.g. AAPL, BRK-B, ^GSPC, EURUSD=X, 7203.T)")
            yield Input(placeholder="ticker", id="ticker")
            yield Static(id="error")
            yield Label("enter: add   escape: cancel", classes="hint")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        error = self.query_one("#error", Static)
        try:
            symbol = validate_symbol(event.value)
        except SymbolError as exc:
            error.update(Text(f"error: {exc}", style="bold red"))
            return
        if symbol in self.watched:
            error.update(Text(f"{symbol} is already on the watchlist", style="bold yellow"))
            return
        self.dismiss(symbol)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y or enter confirms, n or escape declines."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """Every key and what it does."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, *, demo: bool = False) -> None:
        super().__init__()
        self.demo = demo

    def compose(self) -> ComposeResult:
        text = Text("Keys\n\n", style="bold")
        for key, what in help_lines(self.demo):
            text.append(f"{key:>8}  ", style="bold cyan")
            text.append(what + "\n")
        text.append(
            "\nThe TUI only reads the store and queues commands; the daemon does the work.\n"
            "Press escape (or q, ?) to close this help.",
            style="dim",
        )
        with Vertical(id="dialog"):
            yield Static(text, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
