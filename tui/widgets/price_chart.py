"""One symbol's closes with its predictions overlaid: each call plotted at its target
session and predicted price, green when it was a hit, red when a miss, yellow while pending;
each pending call's 80% and 95% ranges of the target close drawn as a fan from the close it
was made on to the range's ends on its target date."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from tui.widgets.history import outcome

OUTCOMES = (("hit", "green", "+"), ("miss", "red", "x"), ("pending", "yellow", "o"))
FANS = (("95% range", "lower95", "upper95", "blue"), ("80% range", "lower", "upper", "cyan"))


class PriceChart(PlotextPlot):
    detail: reactive[dict[str, Any]] = reactive(dict, always_update=True)

    def watch_detail(self, detail: dict[str, Any]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        bars = detail.get("bars") or []
        plt.title(f"{detail.get('symbol', '')} close and predictions (at target date)")
        if bars:
            plt.date_form("Y-m-d")
            first = bars[0]["date"]
            plt.plot(
                [b["date"] for b in bars],
                [b["close"] for b in bars],
                label="close",
                marker="braille",
                color="white",
            )
            preds = [p for p in detail.get("history", []) if p["target_date"] >= first]
            pending = [p for p in preds if p["status"] == "pending"]
            for name, lo, hi, color in FANS:
                drawn = [p for p in pending if p.get(lo) is not None and p.get(hi) is not None]
                for i, p in enumerate(drawn):
                    for end in (lo, hi):
                        plt.plot(
                            [p["as_of"], p["target_date"]],
                            [p["base_price"], p[end]],
                            label=name if i == 0 and end == lo else None,
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
