"""A call as every panel shows it, and a hit rate next to its baseline.

The baseline next to every hit rate is the stronger of always-up and the causal majority
over the same verified predictions (which one travels with it)."""

from __future__ import annotations

from typing import TypedDict

from vocab.scoring import Baseline, stronger_baseline

HIT_WINDOW = 50  # verified predictions per symbol behind the watchlist's rolling hit rate


class Call(TypedDict):
    """What every prediction row shown carries: the call itself."""

    horizon: int
    direction: str  # up | down | flat
    pred_change_pct: float
    confidence: float | None
    model_version: str


class LatestCall(Call):
    id: int
    as_of: str
    status: str
    lower: float | None
    upper: float | None


# The scoring rules live in models.outcomes and are applied once, by `verify`, which
# stores each call's hit (NULL for a FLAT call) and the hits of the always-up and causal
# majority baselines on the same call. The dashboard only aggregates those columns.
SCORED_SQL = "hit, up_hit, majority_hit"


def hit_stats(rows: list[tuple[int | None, int | None, int | None]]) -> tuple[int, int, int, int]:
    """(n, hits, always-up hits, majority hits) over directional calls (hit not NULL)."""
    n = hits = ups = majs = 0
    for hit, up, maj in rows:
        if hit is None:
            continue
        n += 1
        hits += int(hit)
        ups += int(up or 0)
        majs += int(maj or 0)
    return n, hits, ups, majs


def baseline(n: int, ups: int, majs: int) -> tuple[float | None, Baseline]:
    """The stronger of always-up and the causal majority on the same calls: its hit rate
    and which it is (vocab.scoring.BASELINE_LABEL says how its name reads)."""
    if not n:
        return None, "always_up"
    which = stronger_baseline(ups, majs)
    return (ups if which == "always_up" else majs) / n, which
