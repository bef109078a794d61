"""The accuracy trend: rolling hit rate of verified UP/DOWN calls against the stronger
baseline (always-up or the causal majority) on the same calls.

Each point covers the last `window` target sessions across all symbols and horizons;
the title carries the totals and n. The significance test runs in `assistant report`.
"""

from __future__ import annotations

from textual.reactive import reactive

from store.views.trend import Trend
from tui.widgets.axes import DateChart
from vocab.scoring import BASELINE_LABEL


def title_of(trend: Trend) -> str:
    """The panel title: totals over every verified prediction, with n and the p-value."""
    if not trend["n"] or trend["hit_rate"] is None or trend["base_rate"] is None:
        if not trend["range_dates"]:
            return "Accuracy: no verified UP/DOWN calls yet" + _ranges(trend)
        n, covered = trend["ranges"]["80"]
        return (
            f"80% range covered {100 * covered / n:.0f}% of {n:,} calls (no UP/DOWN calls yet)\n"
            f"chart: rolling {trend['window']}-session coverage of the 80% and 95% ranges"
        )
    name = BASELINE_LABEL[trend["base_name"]]
    # what matters first on each line: a narrow panel cuts the end (tui.widgets.title)
    ranges = _ranges(trend)
    return (
        f"Hit {trend['hit_rate'] * 100:.1f}% vs {name} {trend['base_rate'] * 100:.1f}% "
        f"(same calls, n={trend['n']})\n"
        f"{ranges.removeprefix(' · ')}{' · ' if ranges else ''}"
        f"chart: rolling {trend['window']}-session hit rate vs {name}"
    )


def _ranges(trend: Trend) -> str:
    n, covered = trend["ranges"].get("80", (0, 0))
    return f" · 80% range covered {100 * covered / n:.0f}% of {n:,} calls" if n else ""


class TrendChart(DateChart):
    trend: reactive[Trend | None] = reactive(None, always_update=True)

    def watch_trend(self, trend: Trend | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        dates = trend["dates"] if trend else []
        self.set_span(None)
        if trend and not dates and trend["range_dates"]:
            # no directional call verified: chart what the product does forecast, its ranges
            self._coverage(trend)
        elif trend and dates:
            plt.date_form("Y-m-d")
            self.set_span(dates[0], dates[-1])
            # The baseline first: where the calls' hit rate equals it (a model that always
            # says up), the hit-rate line drawn last stays visible on top.
            plt.plot(
                dates,
                [b * 100 for b in trend["base"]],
                label=f"{BASELINE_LABEL[trend['base_name']]} %",  # the baseline plotted
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

    def _coverage(self, trend: Trend) -> None:
        plt = self.plt
        days = trend["range_dates"]
        plt.date_form("Y-m-d")
        self.set_span(days[0], days[-1])
        for level, covered, color in ((95, trend["cov95"], "green"), (80, trend["cov80"], "cyan")):
            plt.plot(days, [level] * len(days), marker="braille", color="gray")
            plt.plot(
                days,
                [c * 100 for c in covered],
                label=f"in {level}% range %",
                marker="braille",
                color=color,
            )
        plt.ylim(50, 100)
