"""Screens: the dashboard, one symbol's detail, and the modals (add, confirm, help)."""

from collections.abc import Callable
from typing import TypeVar

from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

T = TypeVar("T")


def composed_or_retry(screen: Screen[None], apply: Callable[[T], None], value: T) -> bool:
    """True once the screen's widgets exist; otherwise re-apply `value` after the next refresh
    (a data snapshot can arrive before compose has finished)."""
    try:
        screen.query_one(Footer)
    except NoMatches:
        screen.call_after_refresh(apply, value)
        return False
    return True
