"""The key bar: Textual's Footer, restyled and recomposed only when what it shows changes.

Textual's Footer makes each key with `compact` on (FooterKey's default), then binds it to
the footer's own `compact` (off here), so every key is restyled twice on the way in (class
added, class removed); and it recomposes all its keys on every change of the screen's
bindings (each focus change), even when the keys shown stay the same. At the dashboard's
first paint that was 26 style passes per composition, up to three compositions before the
first frame (~0.02-0.05 s of the UI thread). The same keys, widgets and styles come out:
what the person sees and clicks is Textual's Footer's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # (textual is pinned in constraints.txt)

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.screen import Screen


class KeyBar(Footer):
    """Footer, less the restyles and recompositions that change nothing on screen."""

    _composed: tuple[object, ...] | None = None  # what the keys on screen were made from

    def _shows(self, screen: Screen[object]) -> tuple[object, ...]:
        """Everything Footer.compose reads from the screen's bindings."""
        return tuple(
            (
                key,
                b.key,
                b.action,
                b.description,
                b.show,
                b.group,
                b.tooltip,
                enabled,
                tooltip,
                self.app.get_key_display(b),
            )
            for key, (_, b, enabled, tooltip) in screen.active_bindings.items()
        )

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._composed = self._shows(self.screen)
        for widget in super().compose():
            # a key bound to the footer's `compact` is born with its value: no class to undo
            # (the command palette's key is not bound: it keeps FooterKey's own default)
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

    def bindings_changed(self, screen: Screen[object]) -> None:
        if (
            self._bindings_ready
            and self.is_attached
            and screen is self.screen
            and self._composed == self._shows(screen)
        ):
            return  # the same keys: recomposing would make the same widgets again
        super().bindings_changed(screen)
