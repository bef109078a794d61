"""How the daemon's state reads: online or not and why, from its row and the time now (a
pure rule, so the dashboard re-ticks it every second and `assistant status` says the same),
and how an age reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict


class DaemonInfo(TypedDict):
    """The daemon row as the header shows it: online or not, and why not."""

    online: bool
    mode: str | None
    sim_date: str | None
    pid: int | None
    state: str | None
    heartbeat_at: str | None
    stopped_at: str | None
    heartbeat_age_s: float | None
    reason: str  # why it is offline ("" when online)
    version: NotRequired[str | None]  # absent when the daemon never ran here


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def classify_daemon(
    row: Mapping[str, Any] | None, now: datetime, heartbeat_seconds: float = 5.0
) -> DaemonInfo:
    """Online or not, from a daemon row and the time now (pure, so the TUI re-ticks it each second).

    Offline: no row, `stopped_at` set, no heartbeat for more than 3 heartbeat intervals, or a
    last heartbeat more than 3 intervals ahead of `now` (the clock was set back and no beat
    came since: a beat clamped to age 0 would read online until the clock caught up).
    """
    info: DaemonInfo = {
        "online": False,
        "mode": None,
        "sim_date": None,
        "pid": None,
        "state": None,
        "heartbeat_at": None,
        "stopped_at": None,
        "heartbeat_age_s": None,
        "reason": "the daemon has never run here",
    }
    if not row:
        return info
    beat = parse_time(row.get("heartbeat_at"))
    since = None if beat is None else (now - beat).total_seconds()
    age = None if since is None else max(0.0, since)
    info.update(
        {
            "mode": row.get("mode"),
            "sim_date": row.get("sim_date"),
            "pid": row.get("pid"),
            "heartbeat_at": row.get("heartbeat_at"),
            "stopped_at": row.get("stopped_at"),
            "state": row.get("state"),
            "heartbeat_age_s": age,
            "version": row.get("version"),
        }
    )
    if row.get("stopped_at"):
        info["reason"] = "the daemon stopped"
    elif since is not None and since < -3 * heartbeat_seconds:
        # A running daemon beats again within one interval on the clock set back; a beat
        # still ahead of it is from a daemon that has not beaten since (dead, or hung).
        info["reason"] = (
            f"its last heartbeat is {human_age(-since)} ahead of this clock "
            "(was the clock set back?)"
        )
    elif age is None or age > 3 * heartbeat_seconds:
        # Stable wording (the header shows the exact age): the banner only repaints on a change.
        info["reason"] = "no heartbeat " + (
            "yet" if age is None else f"for over {human_age(3 * heartbeat_seconds)}"
        )
    else:
        info.update({"online": True, "reason": ""})
    return info


def human_age(seconds: float) -> str:
    """12s, 5m, 3.2h, 41d: short ages for status lines."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.0f}d"
