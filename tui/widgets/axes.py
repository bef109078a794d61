"""A date x-axis that reads right at any number of points: distinct ticks, a sensible span.

plotext picks the span and ticks of a date axis from the data: one point gets a span of a
century around it (`1956-08-01 … 2069-09-29`), two close points the same label twice. A
chart here states its span instead; the ticks are spread over it, as many as fit the
chart's width, each a different day.
"""

from __future__ import annotations

from datetime import date, timedelta

from textual.app import RenderResult
from textual_plotext import PlotextPlot

MIN_SPAN_DAYS = 6  # a chart of one or two close sessions spans about a week around them
TICK_ROOM = 14  # columns per tick label (10 for YYYY-MM-DD, and a gap)


def span(first: str, last: str) -> tuple[date, date]:
    """The axis's ends for data from `first` to `last` (ISO dates): the data's own span, or
    a week centred on it when the data covers less."""
    a, b = date.fromisoformat(first[:10]), date.fromisoformat(last[:10])
    short = MIN_SPAN_DAYS - (b - a).days
    if short > 0:
        a -= timedelta(days=short // 2 + short % 2)
        b += timedelta(days=short // 2)
    return a, b


def ticks(a: date, b: date, width: int) -> list[str]:
    """Distinct dates from `a` to `b`, evenly spread, as many as `width` columns hold."""
    days = (b - a).days
    n = max(2, min(days + 1, width // TICK_ROOM))
    out: list[str] = []
    for i in range(n):
        day = (a + timedelta(days=round(i * days / (n - 1)))).isoformat()
        if day not in out:
            out.append(day)
    return out


class DateChart(PlotextPlot):
    """A plotext chart whose date x-axis spans `set_span(first, last)` (None: no axis)."""

    _span: tuple[date, date] | None = None

    def set_span(self, first: str | None, last: str | None = None) -> None:
        self._span = span(first, last or first) if first else None

    def render(self) -> RenderResult:
        if self._span is not None:
            a, b = self._span
            # plotext reads date strings here in its date form (its stubs say floats only)
            self.plt.xlim(a.isoformat(), b.isoformat())  # type: ignore[arg-type]
            self.plt.xticks(ticks(a, b, max(self.size.width - 10, 0)))  # type: ignore[arg-type]
            # plotext drops duplicate ticks through a set, in an order that changes from run
            # to run (str hashes), and then places the labels in that order: sort them back
            monitor = getattr(self.plt, "monitor", None)
            if monitor is not None and monitor.xticks[0]:
                pairs = sorted(zip(monitor.xticks[0], monitor.xlabels[0], strict=True))
                monitor.xticks[0] = [t for t, _ in pairs]
                monitor.xlabels[0] = [label for _, label in pairs]
        return super().render()
