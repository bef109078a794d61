"""Live scheduling at exchange-local times, and catch-up of every run missed.

Two slots a day, on trading sessions only (and, with hour-ahead calls on, one after each
session hour: `hourly`, below): `daily` (collect after the close, then
predict and verify) at `schedule.collect_at`, and `drift` (drift check, and a retrain
when one is due) at `schedule.drift_check_at`, both in `schedule.timezone`. The slot a
run covers is its `scheduled_for` in `job_runs`, which makes a run idempotent per slot.

The wall clock jumps: a suspended laptop or a paused VM wakes hours or days later, an
NTP step moves it. So the schedule keeps a watermark, the wall-clock time up to which
it has looked, and each pass fires every slot between the watermark and now, oldest
first (the `schedule` library would fire once, late, and skip the rest). At start, every
slot after the latest one that ran (`job_runs`) is caught up the same way, in order, at
most MAX_CATCH_UP sessions back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from assistant.config import Settings
from store.db import CannotWrite

MAX_CATCH_UP = 10  # sessions: a daemon down longer catches up the latest ones only
# The `hourly` slot (only with [cycle] hourly_horizons): HOURLY_LAG after each session hour
# of the exchange closes, the hour-ahead calls from that bar and the verification of the
# calls whose target bar has closed. A daemon down longer than MAX_HOURLY_CATCH_UP slots
# (two full US sessions) catches up the newest ones only: older hour-ahead calls would
# only be calls about the past.
HOURLY_LAG = timedelta(minutes=5)
MAX_HOURLY_CATCH_UP = 14
IDLE_MAX_S = 60.0  # the loop looks at the wall clock at least this often

log = logging.getLogger("assistant.daemon")


def slot_times(settings: Settings) -> dict[str, str]:
    s = settings.schedule
    return {"daily": s.collect_at, "drift": s.drift_check_at}


def _at(day: datetime, hhmm: str, tz: ZoneInfo) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":")[:2])
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def _session_days(exchange: str, start: datetime, end: datetime) -> list[datetime]:
    from assistant import calendar  # exchange_calendars: only when sessions are counted

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


def slots_between(
    after: datetime, now: datetime, hhmm: str, tz_name: str, exchange: str
) -> list[datetime]:
    """The session-day `hhmm` slots (exchange-local, tz-aware) with after < slot <= now."""
    tz = ZoneInfo(tz_name)
    start, end = after.astimezone(tz), now.astimezone(tz)
    if end <= start:
        return []
    return [
        slot
        for day in _session_days(exchange, start - timedelta(days=1), end)
        if start < (slot := _at(day, hhmm, tz)) <= end
    ]


def hourly_slots_between(after: datetime, now: datetime, exchange: str) -> list[datetime]:
    """The hourly slots (each session hour's close + HOURLY_LAG, tz-aware) with
    after < slot <= now, oldest first."""
    from assistant import calendar

    if now <= after:
        return []
    lag = HOURLY_LAG + timedelta(hours=1)
    grid = calendar.bar_grid(exchange, (after - lag).date(), (now + timedelta(days=1)).date())
    return [
        t.to_pydatetime() for t in (grid["close"] + HOURLY_LAG) if after < t.to_pydatetime() <= now
    ]


def next_hourly_slot(now: datetime, exchange: str) -> datetime | None:
    """The first hourly slot strictly after `now`."""
    later = hourly_slots_between(now, now + timedelta(days=15), exchange)
    return later[0] if later else None


class LiveSchedule:
    """The live jobs: `run_pending()` fires `fire(name, slot)` for every slot that came due
    since the last pass (the watermark), oldest first; `now` is the wall clock."""

    def __init__(
        self,
        settings: Settings,
        fire: Callable[[str, datetime], None],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.tz = settings.schedule.timezone
        self.exchange = settings.calendar.exchange
        self.times = slot_times(settings)
        self.hourly = bool(settings.cycle.hourly_horizons)
        self._fire = fire
        self.now = now
        ZoneInfo(self.tz)  # a bad timezone raises here, before anything changes
        self.seen = now()  # the watermark: every slot up to here has been handled
        self._next: datetime | None = None  # the earliest slot after `seen` (cached)

    def _next_due(self) -> datetime | None:
        if self._next is None:
            nexts = [
                next_slot(self.seen, hhmm, self.tz, self.exchange) for hhmm in self.times.values()
            ]
            if self.hourly:
                nexts.append(next_hourly_slot(self.seen, self.exchange))
            self._next = min((t for t in nexts if t is not None), default=None)
        return self._next

    def due(self, now: datetime) -> list[tuple[str, datetime]]:
        """Every slot in (watermark, now], oldest first; moves the watermark to `now`.

        A wall clock stepped back moves the watermark back with it (a slot already run
        is not run again: `job_runs` knows it)."""
        if now < self.seen:
            self.seen, self._next = now, None
            return []
        nxt = self._next_due()
        if nxt is None or nxt > now:
            return []
        out = [
            (name, slot)
            for name, hhmm in self.times.items()
            for slot in slots_between(self.seen, now, hhmm, self.tz, self.exchange)
        ]
        out += self._hourly(self.seen, now)
        self.seen, self._next = now, None
        return sorted(out, key=lambda item: item[1])

    def _hourly(self, after: datetime, now: datetime) -> list[tuple[str, datetime]]:
        if not self.hourly:
            return []
        tz = ZoneInfo(self.tz)
        return [
            ("hourly", t.astimezone(tz)) for t in hourly_slots_between(after, now, self.exchange)
        ]

    def run_pending(self) -> None:
        now = self.now()
        due = self.due(now)
        if len(due) > 1 or any((now - slot).total_seconds() > 300 for _, slot in due):
            log.warning(
                "the clock jumped (a suspend, a paused VM, a clock step?): it is %s; catching "
                "up %d missed run(s): %s",
                slot_key(now.astimezone(ZoneInfo(self.tz))),
                len(due),
                ", ".join(f"{name} {slot_key(slot)}" for name, slot in due),
            )
        for name, slot in due:
            self._run(name, slot)

    def _run(self, name: str, slot: datetime) -> None:
        try:
            self._fire(name, slot)
        except CannotWrite:
            raise  # the loop waits for room, then catches up the slot
        except Exception:  # one failing slot never ends the loop or skips the next ones
            log.exception("%s: unexpected error", name)

    def idle_seconds(self) -> float:
        nxt = self._next_due()
        if nxt is None:
            return IDLE_MAX_S
        return min(IDLE_MAX_S, max(0.0, (nxt - self.now()).total_seconds()))

    def missed(
        self,
        now: datetime,
        has_run: Callable[[str, str], bool],
        ever_ran: Callable[[str], bool] = lambda name: False,
    ) -> list[tuple[str, datetime]]:
        """What to catch up at start, oldest first: each job's slots after the latest one
        that ran, at most MAX_CATCH_UP sessions back (a job that never ran: its latest slot
        only, a new home has no past to catch up). Moves the watermark to `now`."""
        out = []
        tz = ZoneInfo(self.tz)
        since = now.astimezone(tz) - timedelta(days=MAX_CATCH_UP * 7 // 5 + 15)
        for name, hhmm in self.times.items():
            recent = slots_between(since, now, hhmm, self.tz, self.exchange)[-MAX_CATCH_UP:]
            todo: list[datetime] = []
            for slot in reversed(recent):
                if has_run(name, slot_key(slot)):
                    break
                todo.append(slot)
            else:
                if not ever_ran(name):
                    todo = todo[:1]
            out += [(name, slot) for slot in todo]
        recent_hours = self._hourly(since, now)[-MAX_HOURLY_CATCH_UP:]
        todo_hours: list[tuple[str, datetime]] = []
        for name, slot in reversed(recent_hours):
            if has_run(name, slot_key(slot)):
                break
            todo_hours.append((name, slot))
        else:
            if not ever_ran("hourly"):
                todo_hours = todo_hours[:1]
        out += todo_hours
        self.seen, self._next = now, None
        return sorted(out, key=lambda item: item[1])


def next_runs(settings: Settings, now: datetime | None = None) -> dict[str, str | None]:
    """When each live slot fires next (for `assistant status`)."""
    now = now or datetime.now(UTC)
    s = settings.schedule
    exchange = settings.calendar.exchange
    out = {
        name: (lambda t: None if t is None else slot_key(t))(
            next_slot(now, hhmm, s.timezone, exchange)
        )
        for name, hhmm in slot_times(settings).items()
    }
    if settings.cycle.hourly_horizons:
        nxt = next_hourly_slot(now, exchange)
        out["hourly"] = None if nxt is None else slot_key(nxt.astimezone(ZoneInfo(s.timezone)))
    return out
