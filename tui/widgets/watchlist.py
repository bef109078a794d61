"""The watchlist: one row per watched symbol, updated in place when the store changes."""

from __future__ import annotations

from textual.reactive import reactive

from store.views.watchlist import WatchRow
from tui.widgets import fmt
from tui.widgets.tables import RowsTable, selected_key

COLUMNS = (
    ("Symbol", 7),
    ("Close", 9),
    ("Chg", 7),
    # the live quote (only while there is one): move since the last close and in the day's
    # forecast sigmas, and where it stands against today's 80% / 95% ranges
    ("Live", 13),
    ("Today", 8),
    ("Regime", 8),
    ("Latest call", 12),
    ("Conf", 4),
    ("80% range", 11),
    ("In 80%", 8),
    ("Rank", 12),  # the ranking model: rank among the ranked symbols, expected relative move
    ("Hit rate", 11),  # after what the product knows (ranges, rank): direction rarely has edge
    ("Baseline", 8),  # the stronger of always-up and the causal majority on the same calls
    ("Model", 11),
)
# What stays on a narrow screen, most wanted first (the symbol screen shows every one of them)
KEEP = (
    "Symbol",
    "Close",
    "Chg",
    "Live",
    "Today",
    "Latest call",
    "80% range",
    "Hit rate",
    "Baseline",
    "Regime",
    "Conf",
    "In 80%",
    "Rank",
    "Model",
)


class WatchlistTable(RowsTable[WatchRow]):
    """Symbol, last close and change, regime, latest call with confidence and
    its 80% range of the target close, the realized 80% coverage, the ranking model's rank of
    the symbol with its expected move relative to the others, and hit rate vs baseline."""

    COLUMNS = COLUMNS
    KEEP = KEEP
    ZEBRA = True
    LIVE = ("Live", "Today")
    live: reactive[bool] = reactive(False, init=False)  # set when some row has a quote

    def absent(self) -> tuple[str, ...]:
        return () if self.live else self.LIVE

    def watch_live(self) -> None:
        if self.columns:
            self.refit()

    @property
    def left_out(self) -> tuple[str, ...]:
        """The columns a narrow screen left out (not those with nothing to show)."""
        return tuple(name for name in self.hidden if name not in self.absent())

    def row(self, r: WatchRow) -> tuple[str, tuple[object, ...]]:
        return r["symbol"], self.cells(r)

    @staticmethod
    def cells(r: WatchRow) -> tuple[object, ...]:
        call = r["call"]
        return (
            r["symbol"],
            fmt.num(r["close"]),
            fmt.signed(r["change_pct"]),
            fmt.live_move(r["live"]),
            fmt.live_band(r["live"]),
            fmt.regime(r["regime"]),
            fmt.call(call),
            fmt.confidence(call),
            fmt.price_range(call["lower"], call["upper"]) if call else fmt.price_range(None, None),
            fmt.coverage(r["coverage80"], r["n80"]),
            fmt.rank(r["ranking"]),
            fmt.hit_vs_base(r["hit_rate"], r["baseline"], r["n"]),
            fmt.pct(r["baseline"]),
            (call["model_version"] if call else None) or "—",
        )

    @property
    def selected_symbol(self) -> str | None:
        return selected_key(self)
