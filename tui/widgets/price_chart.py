"""One symbol's closes with its predictions overlaid: each call plotted at its target
session and predicted price, green when it was a hit, red when a miss, yellow while pending;
each pending call's 80% and 95% ranges of the target close drawn as a fan from the close it
was made on to the range's ends on its target date."""

from __future__ import annotations

from collections.abc import Callable

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from store.views import HistoryCall, SymbolDetail
from tui.widgets.history import outcome

OUTCOMES = (("hit", "green", "+"), ("miss", "red", "x"), ("pending", "yellow", "o"))


def _range95(p: HistoryCall) -> tuple[float | None, float | None]:
    return p["lower95"], p["upper95"]


def _range80(p: HistoryCall) -> tuple[float | None, float | None]:
    return p["lower"], p["upper"]


FANS: tuple[tuple[str, Callable[[HistoryCall], tuple[float | None, float | None]], str], ...] = (
    ("95% range", _range95, "blue"),
    ("80% range", _range80, "cyan"),
)


class PriceChart(PlotextPlot):
    detail: reactive[SymbolDetail | None] = reactive(None, always_update=True)

    def watch_detail(self, detail: SymbolDetail | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        bars = detail["bars"] if detail else []
        plt.title(f"{detail['symbol'] if detail else ''} close and predictions (at target date)")
        if detail and bars:
            plt.date_form("Y-m-d")
            first = bars[0]["date"]
            plt.plot(
                [b["date"] for b in bars],
                [b["close"] for b in bars],
                label="close",
                marker="braille",
                color="white",
            )
            preds = [p for p in detail["history"] if p["target_date"] >= first]
            pending = [p for p in preds if p["status"] == "pending"]
            for name, ends, color in FANS:
                drawn = [(p, ends(p)) for p in pending if None not in ends(p)]
                for i, (p, (lo, hi)) in enumerate(drawn):
                    for j, end in enumerate((lo, hi)):
                        plt.plot(
                            [p["as_of"], p["target_date"]],
                            [p["base_price"], end],
                            label=name if i == 0 and j == 0 else None,
                            marker="braille",
                            color=color,
                        )
            for name, color, marker in OUTCOMES:
                chosen = [p for p in preds if outcome(p) == name]
                if chosen:
                    plt.scatter(
                        [p["target_date"] for p in chosen],
                        [p["pred_price"] for p in chosen],
                        label=name,
                        color=color,
                        marker=marker,
                    )
        self.refresh()
