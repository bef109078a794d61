"""The accuracy trend: rolling hit rate of verified predictions against the always-up baseline.

Each point covers the last `window` target sessions across all symbols and horizons;
the title carries the totals, n and a one-sided p-value against the baseline rate.
"""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual_plotext import PlotextPlot


def title_of(trend: dict[str, Any]) -> str:
    """The panel title: totals over every verified prediction, with n and the p-value."""
    if not trend.get("n"):
        return "Accuracy: no verified predictions yet"
    p = trend.get("p_value")
    return (
        f"Hit {trend['hit_rate'] * 100:.1f}% vs always-up {trend['base_rate'] * 100:.1f}% "
        f"(n={trend['n']}, p={'—' if p is None else f'{p:.2f}'})\n"
        f"chart: rolling {trend['window']}-session hit rate vs always-up"
    )


class TrendChart(PlotextPlot):
    trend: reactive[dict[str, Any]] = reactive(dict, always_update=True)

    def watch_trend(self, trend: dict[str, Any]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        dates = trend.get("dates") or []
        if dates:
            plt.date_form("Y-m-d")
            # The baseline first: where the calls' hit rate equals it (a model that always
            # says up), the hit-rate line drawn last stays visible on top.
            plt.plot(
                dates,
                [b * 100 for b in trend["base"]],
                label="always up %",
                marker="braille",
                color="orange",
            )
            plt.plot(
                dates,
                [h * 100 for h in trend["hit"]],
                label="hit rate %",
                marker="braille",
                color="cyan",
            )
            plt.ylim(0, 100)
        self.refresh()
