"""The scalar scoring rules that more than one layer applies. The vectorized rules over
whole arrays of calls live in models.outcomes; these are the same rules on one number."""

from __future__ import annotations

from typing import Literal

# the test behind every p-value of a hit rate (models.metrics.paired_p), in words
PAIRED_TEST = (
    "one-sided paired test of the daily mean hit difference against the stronger of "
    "always-up and the causal majority, with Newey-West standard errors"
)

STALE_AFTER_SESSIONS = 3  # a newest bar more than this many sessions old is stale data

Baseline = Literal["always_up", "majority"]

# how a baseline's name reads to the user (the JSON key uses the underscore)
BASELINE_LABEL: dict[Baseline, str] = {"always_up": "always-up", "majority": "majority"}


def stronger_baseline(always_up: float, majority: float) -> Baseline:
    """Which baseline a hit rate is measured against: the stronger of always-up and the
    causal majority on the same calls (hit rates or hit counts); a tie goes to always-up."""
    return "always_up" if always_up >= majority else "majority"


def stale_sessions(age: int) -> int:
    """How stale data whose newest bar is `age` sessions old reads: its age when that is
    more than STALE_AFTER_SESSIONS, else 0 (fresh)."""
    return age if age > STALE_AFTER_SESSIONS else 0


NO_EDGE_LINE = "latest calls all no call: no measured edge (ranges below)"


def edge_line(directions: list[str]) -> str | None:
    """NO_EDGE_LINE when there are latest calls and none of them is UP or DOWN: nothing on
    the watchlist cleared its evidence threshold (said once, not per row)."""
    if not directions or any(d in ("up", "down") for d in directions):
        return None
    return NO_EDGE_LINE
