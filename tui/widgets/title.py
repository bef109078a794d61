"""A panel title that fits its width: each line is cut at the edge with '…', never wrapped.

A title wider than its panel used to wrap into the rows below it (the accuracy title ran
into its chart) or stop mid-word at the edge with nothing to say it went on. Each line now
ends where the panel does, and a cut line says so. Titles put what matters first, so a
cut takes the least wanted part.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widgets import Static


def fit(text: str | Text, width: int) -> Text:
    """`text` with each line cut to `width` cells, ending in '…' where it was cut."""
    lines = (text if isinstance(text, Text) else Text(text)).split("\n", allow_blank=True)
    for line in lines:
        if line.cell_len > width:
            line.truncate(max(width, 1), overflow="ellipsis")
    out = Text("\n").join(lines)
    out.no_wrap = True
    return out


class Title(Static):
    """A Static whose (plain or rich) text is fitted to its width whenever it renders."""

    def render(self) -> RenderResult:
        content = self.content
        if not isinstance(content, str | Text) or self.content_region.width <= 0:
            return super().render()
        return fit(content, self.content_region.width)
