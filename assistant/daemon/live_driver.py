"""The live driver: the wall clock, the exchange's two daily slots, and catch-up.

At start (and once a full disk has room again) every slot missed since the last run
runs, oldest first, and a home with no serving model starts a training. While running,
a wall clock that jumped across slots (a suspend, a paused VM) fires each one it crossed,
in order. A caught-up slot that a later one has passed works as of its own session
(`as_of`); the newest works on the latest final bars, as on time (the cycle never uses
a provisional bar: late Monday's run on Tuesday morning predicts from Monday's close). The `daily` slot collects, predicts,
steps the paper account and verifies; the `drift` slot checks drift and retrains when
`schedule.retrain_every_days` have passed since the last retrain. With `[cycle]
hourly_horizons` set, the `hourly` slot (each session hour's close + a few minutes) collects
the hour that closed, makes the hour-ahead calls from that bar and verifies the hourly calls
whose target bar closed. Between slots, while an exchange of the watchlist is open, the
latest prices are polled at `[live] poll_minutes` (assistant.ingest.quotes); nothing is
asked while every one is closed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from assistant.config import Settings
from assistant.daemon import jobs, scheduler
from assistant.daemon.driver import Host, Mode
from assistant.daemon.worker import TrainRequest
from assistant.errors import AssistantError
from assistant.ingest.quotes import QuotePoller
from assistant.ingest.sources.base import Source
from store import jobs as job_runs
from store import registry
from store.daemon_state import DaemonRow, State
from store.db import CannotWrite

log = logging.getLogger("assistant.daemon")

# the job whose run marks a slot done
HAS_RUN = {"daily": "collect", "drift": "drift", "hourly": "hourly_cycle"}
DAILY_JOBS = ("collect", "cycle", "paper", "verify")


def _daily(
    ctx: jobs.Context, as_of: date | None, now: datetime
) -> dict[str, Callable[[jobs.Progress], Any]]:
    """The daily slot's jobs; `as_of`: the session a late slot works as of (collection
    always fetches up to now: the cycle only sees bars up to its `as_of`). `now`: the
    host's clock, for hour-ahead calls left pending when they were turned off."""
    return {
        "collect": lambda p: jobs.collect(ctx, p),
        "cycle": lambda p: jobs.cycle(ctx, p, as_of=as_of),
        "paper": lambda p: jobs.paper(ctx, p, as_of),
        "verify": lambda p: jobs.verify(ctx, p, as_of, leftover_hours_at=now),
    }


class LiveDriver:
    mode: Mode = "live"

    def __init__(self, host: Host):
        self.host = host
        self.schedule: scheduler.LiveSchedule | None = None  # built at start
        self.poller: QuotePoller | None = None  # built at start
        self._source: Source | None = None  # the configured source, kept (its rate-limit pause)
        self._said_dying = False  # the log said the trainings keep killing the daemon

    def start(self, previous: DaemonRow | None) -> None:
        self.host.set_state(State.RUNNING)
        self.poller = QuotePoller(
            self.host.db, self.host.settings, self.quote_source, self.host.now
        )
        self._catch_up()

    def run_due(self) -> bool:
        if self.schedule is not None:
            self.schedule.run_pending()
        if self.poller is not None and not self.host.stop.is_set():
            try:
                self.poller.run_due()
            except CannotWrite:
                raise  # the loop waits for room
            except Exception:  # a failing poll never ends the loop; the next one tries again
                log.exception("live quotes: unexpected error")
        return False

    def idle_for(self, t: float) -> float:
        idle = math.inf if self.schedule is None else self.schedule.idle_seconds()
        return idle if self.poller is None else min(idle, self.poller.seconds_to_next())

    def quote_source(self) -> Source | None:
        """The source quotes come from: the daemon's own (tests), else the configured one,
        made once (a rate limit's pause lives in it)."""
        if self.host.ctx.source is not None:
            return self.host.ctx.source
        if self._source is None:
            from assistant.ingest.collect import make_source

            try:
                self._source = make_source(self.host.settings, home=self.host.ctx.home)
            except AssistantError as exc:
                log.warning("live quotes: no source (%s)", exc)
                return None
        return self._source

    def as_of(self) -> date | None:
        return None  # commands act on the latest bars

    def session_now(self) -> date | None:
        return self.host.now().date()

    def holds_commands(self) -> bool:
        return False

    def reload(self, settings: Settings) -> None:
        if self.schedule is not None:  # a bad timezone raises here, before anything changes
            self.schedule = scheduler.LiveSchedule(settings, self.fire_slot, self.host.now)
        if self.poller is not None:
            if settings.collect != self.poller.settings.collect:
                self._source = None  # made again from the new settings
            self.poller.settings = settings

    def room_again(self) -> None:
        self._catch_up()  # the slots missed meanwhile run now

    def stopping(self) -> None:
        pass

    def _catch_up(self) -> None:
        host = self.host
        if self.schedule is None:
            self.schedule = scheduler.LiveSchedule(host.settings, self.fire_slot, host.now)
        for name, slot in self.schedule.missed(
            host.now(),
            lambda n, key: job_runs.ran_for(host.db, HAS_RUN[n], key),
            lambda n: job_runs.last(host.db, HAS_RUN[n]) is not None,
        ):
            if host.stop.is_set():
                return
            log.info("catching up the missed %s run of %s", name, scheduler.slot_key(slot))
            self.fire_slot(name, slot)
        if not host.worker.busy:
            self._train_if_untrained()

    def fire_slot(self, name: str, slot: datetime) -> None:
        host, key = self.host, scheduler.slot_key(slot)
        if name == "hourly":  # works as of its own bar, on time or late
            self._fire_hourly(slot, key)
            return
        as_of = self._as_of(name, slot)
        if name == "daily":
            if job_runs.ran_for(host.db, "collect", key):
                return
            daily = _daily(host.ctx, as_of, host.now())
            for job in DAILY_JOBS:
                if host.stop.is_set():
                    return
                jobs.run_job(host.db, job, daily[job], scheduled_for=key)
        elif name == "drift":
            if job_runs.ran_for(host.db, "drift", key):
                return
            ctx = host.ctx
            jobs.run_job(host.db, "drift", lambda p: jobs.drift(ctx, p, as_of), scheduled_for=key)
            self._retrain_if_due()

    def _fire_hourly(self, slot: datetime, key: str) -> None:
        """The watchlist's hours over by now (the bar that just closed; skipped when the
        source has no hours of the session under way), then the hour-ahead calls from the
        bar that closed HOURLY_LAG before `slot` (a late slot too: the cycle reads bars up
        to that bar only), then the verification of the hourly calls whose target bar had
        closed by `slot`. A collection that failed (a rate limit) leaves the calls to the
        hours stored."""
        host = self.host
        if job_runs.ran_for(host.db, "hourly_cycle", key):
            return
        ctx, bar_closed = host.ctx, slot - scheduler.HOURLY_LAG
        if jobs.live_hours(ctx):
            now = host.now()
            jobs.run_job(
                host.db,
                "hourly_collect",
                lambda p: jobs.hourly_collect(ctx, p, now=now),
                scheduled_for=key,
            )
            if host.stop.is_set():
                return
        jobs.run_job(
            host.db,
            "hourly_cycle",
            lambda p: jobs.hourly_cycle(ctx, p, at=bar_closed),
            scheduled_for=key,
        )
        if not host.stop.is_set():
            jobs.run_job(
                host.db,
                "hourly_verify",
                lambda p: jobs.hourly_verify(ctx, p, at=slot),
                scheduled_for=key,
            )

    def _as_of(self, name: str, slot: datetime) -> date | None:
        """None (the latest final bars) for the newest slot of its job; a slot that a later
        one has passed, run late (a catch-up), works as of its own session."""
        s = self.schedule
        assert s is not None
        latest = scheduler.last_slot(self.host.now(), s.times[name], s.tz, s.exchange)
        return None if latest is None or slot >= latest else slot.date()

    def _retrain_if_due(self) -> None:
        host = self.host
        every = int(host.settings.schedule.retrain_every_days)
        # Counted from the last training, the user's own `assistant train` included: a
        # daemon started after one retrains `every` days later, not at its first drift slot.
        last = job_runs.last(host.db, "retrain", status="ok")
        times = [registry.last_trained_at(host.db), last["started_at"] if last else None]
        known = [datetime.fromisoformat(t) for t in times if t]
        if known:
            age = host.now() - max(known)
            if age.total_seconds() < every * 86400 - 3600:
                return
        if not host.worker.busy and not self._trainings_die():
            host.worker.submit(TrainRequest(reason=f"every {every} days"))

    def _trainings_die(self) -> bool:
        """Whether the trainings keep killing the daemon (then none starts on its own)."""
        why = jobs.trainings_die(self.host.db)
        if why and not self._said_dying:
            log.error(why)
        self._said_dying = bool(why)
        return bool(why)

    def _train_if_untrained(self) -> None:
        worker = self.host.worker
        if worker.completed or worker.busy:
            return  # a training already ran or runs in this process
        if not registry.any_serving(self.host.db) and not self._trainings_die():
            # Rule-based calls serve at once; model calls take over when training lands.
            worker.submit(TrainRequest(reason="no trained model yet"))
