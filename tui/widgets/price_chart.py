"""One symbol's closes with its predictions overlaid: each call plotted at its target
session and predicted price, green when it was a hit, red when a miss, yellow while pending;
each pending call's 80% and 95% ranges of the target close drawn as a fan from the close it
was made on to the range's ends on its target date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from textual.reactive import reactive

from store.views.symbol import Bar, HistoryCall, SymbolDetail
from tui.widgets.axes import DateChart
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


FUTURE_SHARE = 0.25  # of the x-axis, at least, for the pending calls' fan
MIN_PAST_SESSIONS = 20  # the closes shown, at least (about a month)


def window(bars: list[Bar], history: list[HistoryCall]) -> tuple[list[Bar], str]:
    """The closes to draw and the axis's last day: with pending calls, the axis runs to
    their furthest target and the past is cut so that the future gets FUTURE_SHARE of it
    (five sessions ahead on six months of closes would get the last ~5 columns)."""
    last = bars[-1]["date"]
    ahead = max((p["target_date"] for p in history if p["status"] == "pending"), default=last)
    if ahead <= last:
        return bars, last
    future = (date.fromisoformat(ahead) - date.fromisoformat(last)).days
    since = date.fromordinal(
        date.fromisoformat(last).toordinal() - round(future * (1 - FUTURE_SHARE) / FUTURE_SHARE)
    ).isoformat()
    keep = max(MIN_PAST_SESSIONS, sum(b["date"] >= since for b in bars))
    return bars[-keep:], ahead


class PriceChart(DateChart):
    detail: reactive[SymbolDetail | None] = reactive(None, always_update=True)

    def watch_detail(self, detail: SymbolDetail | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        bars = detail["bars"] if detail else []
        plt.title(f"{detail['symbol'] if detail else ''} close and predictions (at target date)")
        self.set_span(None)
        if detail and bars:
            plt.date_form("Y-m-d")
            bars, until = window(bars, detail["history"])
            first = bars[0]["date"]
            self.set_span(first, until)
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
