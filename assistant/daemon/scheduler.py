"""Live scheduling at exchange-local times, and catch-up of runs missed while down.

Two slots a day, on trading sessions only: `daily` (collect after the close, then
predict and verify) at `schedule.collect_at`, and `drift` (drift check, and a retrain
when one is due) at `schedule.drift_check_at`, both in `schedule.timezone`. The
`schedule` library fires them (its `.at(time, tz)` is DST-aware); the slot a run
covers is its `scheduled_for` in `job_runs`, which makes a run idempotent per slot and
lets a restarted daemon catch up the latest missed slot exactly once (the library
itself skips missed runs and forgets everything on restart).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import schedule

from assistant import calendar
from assistant.config import Settings
from store.db import DiskFull

log = logging.getLogger("assistant.daemon")


def slot_times(settings: Settings) -> dict[str, str]:
    s = settings.schedule
    return {"daily": s.collect_at, "drift": s.drift_check_at}


def _at(day: datetime, hhmm: str, tz: ZoneInfo) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":")[:2])
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def _session_days(exchange: str, start: datetime, end: datetime) -> list[datetime]:
    return [d.to_pydatetime() for d in calendar.sessions(exchange, start.date(), end.date())]


def last_slot(now: datetime, hhmm: str, tz_name: str, exchange: str) -> datetime | None:
    """The latest session-day `hhmm` (exchange-local, tz-aware) at or before `now`."""
    tz = ZoneInfo(tz_name)
    local = now.astimezone(tz)
    for day in reversed(_session_days(exchange, local - timedelta(days=15), local)):
        slot = _at(day, hhmm, tz)
        if slot <= local:
            return slot
    return None


def next_slot(now: datetime, hhmm: str, tz_name: str, exchange: str) -> datetime | None:
    """The first session-day `hhmm` (exchange-local, tz-aware) strictly after `now`."""
    tz = ZoneInfo(tz_name)
    local = now.astimezone(tz)
    for day in _session_days(exchange, local, local + timedelta(days=15)):
        slot = _at(day, hhmm, tz)
        if slot > local:
            return slot
    return None


def slot_key(slot: datetime) -> str:
    """How a slot is written to `job_runs.scheduled_for`: exchange-local ISO with offset."""
    return slot.isoformat(timespec="minutes")


class LiveSchedule:
    """The live jobs on a `schedule.Scheduler`; `fire(name, slot)` does the work."""

    def __init__(self, settings: Settings, fire: Callable[[str, datetime], None]):
        self.tz = settings.schedule.timezone
        self.exchange = settings.calendar.exchange
        self.times = slot_times(settings)
        self._fire = fire
        self.scheduler = schedule.Scheduler()
        for name, hhmm in self.times.items():
            self.scheduler.every().day.at(hhmm, self.tz).do(self._on_time, name)

    def _on_time(self, name: str) -> None:
        # `schedule` fires every calendar day (and once late after a long sleep): only a
        # session whose slot is today, in the exchange's zone, runs.
        now = datetime.now(UTC)
        slot = last_slot(now, self.times[name], self.tz, self.exchange)
        today = now.astimezone(ZoneInfo(self.tz)).date()
        if slot is None or slot.date() != today:
            log.info("%s: %s is not a trading session, nothing to do", name, today)
            return
        try:
            self._fire(name, slot)
        except DiskFull:
            raise  # the loop waits for room, then catches up the slot
        except Exception:  # a job that escapes here would end run_pending() and the loop
            log.exception("%s: unexpected error", name)

    def run_pending(self) -> None:
        self.scheduler.run_pending()

    def idle_seconds(self) -> float:
        idle = self.scheduler.idle_seconds
        return 60.0 if idle is None else max(0.0, idle)

    def missed(
        self, now: datetime, has_run: Callable[[str, str], bool]
    ) -> list[tuple[str, datetime]]:
        """The latest slot of each job, if it has not run: what to catch up at start."""
        out = []
        for name, hhmm in self.times.items():
            slot = last_slot(now, hhmm, self.tz, self.exchange)
            if slot is not None and not has_run(name, slot_key(slot)):
                out.append((name, slot))
        return out


def next_runs(settings: Settings, now: datetime | None = None) -> dict[str, str | None]:
    """When each live slot fires next (for `assistant status`)."""
    now = now or datetime.now(UTC)
    s = settings.schedule
    exchange = settings.calendar.exchange
    return {
        name: (lambda t: None if t is None else slot_key(t))(
            next_slot(now, hhmm, s.timezone, exchange)
        )
        for name, hhmm in slot_times(settings).items()
    }
