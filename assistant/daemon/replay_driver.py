"""The replay driver: a simulated clock over stored or sample history.

It waits (state `waiting`) until the watchlist and the data give it a range, then steps
one session at a time. A session where a retrain is due (the first, then every
`retrain_every`) is revealed, the training starts on the bars up to it, and the clock
waits (commands and heartbeats go on) until it is done: a replay serves the models the
walk-forward backtest would, never stale ones. A stop leaves a step unrecorded, so it is
redone on resume. When the data runs out the replay is finished and keeps serving
commands as of its last session.

A session with hourly bars (stored, or collected when it is revealed) is stepped through
hour by hour before its cycle runs: each hour quotes the bars' closes
(assistant.ingest.quotes.replay_hour) against the calls made at the previous close, so
the dashboard's live column moves through the replayed day while its close and calls stay
those of the previous session (the daemon's simulated date moves at the step). The hours
share the session's time at the replay's speed (`[live] poll_minutes = 0` skips them).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

from assistant.config import Settings
from assistant.daemon import jobs, replay_clock, worker
from assistant.daemon.driver import Host, Mode
from assistant.daemon.worker import TrainRequest
from assistant.errors import AssistantError, TemporaryError
from store import bars, commands, daemon_state
from store import jobs as job_runs
from store import symbols as watch
from store.daemon_state import DaemonRow, State
from vocab.dates import session_date

log = logging.getLogger("assistant.daemon")

TRAINING_POLL_S = 0.05  # a replay waiting on its due retrain looks again this often
PREPARE_RETRY_S = 10.0  # a waiting replay looks for its range again this often


@dataclass
class ReplayOptions:
    from_date: date | None = None
    speed: float = 5.0  # sessions per second; 0 = as fast as possible
    retrain_every: int | None = None  # sessions; default settings.schedule.retrain_every_days
    drift_every: int = 5  # sessions between drift checks


@dataclass
class ReplayRun:
    """A prepared replay: its sessions, and the job_runs row it reports to."""

    clock: replay_clock.ReplayClock
    run_id: int
    progress: jobs.Throttled
    finished: bool = False
    before: date | None = None  # the session a resumed replay had completed before its clock


class ReplayDriver:
    mode: Mode = "replay"

    def __init__(self, host: Host, opts: ReplayOptions, exchange: str):
        self.host, self.opts = host, opts
        self.exchange = exchange  # a reload keeps the replay's exchange and sessions
        self.run: ReplayRun | None = None  # set once the replay's range is known
        self._resume_from: date | None = None
        self._resumed_after: date | None = None  # the previous replay's last session
        self._next_step = 0.0
        self._next_prepare = 0.0
        self._revealed: date | None = None  # the session collected (and retrain started)
        self._trains_for: date | None = None  # the session whose due retrain the clock waits for
        self._stored_only: set[str] = set()
        self._hours_for: date | None = None  # the session whose hours are being replayed
        self._hour = 0  # the next hourly slot of that session
        self._slots = 0  # its hourly slots (0: no hourly bars, no hours)

    # ---- what the loop asks ----

    def start(self, previous: DaemonRow | None) -> None:
        host = self.host
        self._resume_from = replay_clock.resume_date(previous, self.exchange)
        if previous is not None and self._resume_from:
            last = previous["sim_date"]
            self._resumed_after = session_date(last) if last else None
        host.set_state(State.WAITING)
        if self._resumed_after:
            # keep the resume point should this run die before a step
            daemon_state.heartbeat(host.db, sim_date=self._resumed_after)
        self._prepare()

    def run_due(self) -> bool:
        host = self.host
        if host.state == State.WAITING:
            if host.clock() >= self._next_prepare:
                self._prepare()
            return False
        run = self.run
        if host.state != State.RUNNING or run is None or host.clock() < self._next_step:
            return False
        clock = run.clock
        sim = clock.current
        if sim is None:
            return self._finish(run)
        if self._revealed != sim:
            if not self._reveal(clock, sim):
                return False  # stopping mid-step: the session is redone on resume
            self._revealed = sim
        if not self._hours_done(sim):
            return self._replay_hour(sim)
        if self._trains_for == sim and host.worker.busy:
            # The clock does not pass a due retrain until it is done; look again in a
            # moment (not in a spin: that would starve the training thread of the GIL and
            # of the write lock its own writes need).
            self._next_step = host.clock() + TRAINING_POLL_S
            return False
        if not self._step(clock, sim):
            return False  # stopping mid-step: the session is redone on resume
        clock.advance()
        run.progress(clock.fraction(), f"session {sim} ({clock.done}/{len(clock.sessions)})")
        speed = self.opts.speed
        share = 1.0 / (self._slots + 1) if self._hours_for == sim else 1.0
        self._next_step = host.clock() + (share / speed if speed > 0 else 0.0)
        return speed <= 0

    def idle_for(self, t: float) -> float:
        if self.host.state != State.RUNNING:
            return math.inf
        return max(0.0, self._next_step - t)

    def as_of(self) -> date | None:
        """The simulated session commands act on: the last one done (None before one is)."""
        if self.run is None:
            return None
        clock = self.run.clock
        return clock.sessions[clock.done - 1] if clock.done else self.run.before

    def session_now(self) -> date | None:
        """The session whose cycle may not have run yet (the one being stepped or next; its
        last once finished); None while the replay has not started."""
        if self.run is None:
            return None
        clock = self.run.clock
        return clock.current or (clock.sessions[-1] if clock.sessions else None)

    def holds_commands(self) -> bool:
        # Commands act as of the replay's session: before its first one is done (it may
        # wait for its due retrain) they stay queued rather than fail.
        return self.run is not None and self.host.state == State.RUNNING and self.as_of() is None

    def reload(self, settings: Settings) -> None:
        pass  # the running replay keeps its exchange and sessions; cadences read settings

    def room_again(self) -> None:
        pass  # the session the full disk cut short is redone by the next step

    def stopping(self) -> None:
        run = self.run
        if run is not None and not run.finished:
            job_runs.finish(
                self.host.db,
                run.run_id,
                "interrupted",
                f"stopped before session {run.clock.current}",
            )

    # ---- the replay ----

    def _prepare(self) -> None:
        """Find the replay's range and reveal history up to its start (retried while waiting)."""
        host, opts = self.host, self.opts
        self._next_prepare = host.clock() + PREPARE_RETRY_S
        symbols = watch.active_symbols(host.db)
        if not symbols:
            log.info(
                "replay waiting: the watchlist is empty (add symbols with `assistant watch add`)"
            )
            return
        source, source_error = host.ctx.source, ""
        try:
            from assistant.ingest.collect import make_source

            source = source or make_source(host.settings, home=host.ctx.home)
        except AssistantError as exc:  # misconfigured: stored bars may still replay
            source, source_error = None, str(exc)
        try:
            rng = replay_clock.find_range(
                source, bars.span(host.db, symbols), symbols, source_error
            )
        except TemporaryError as exc:  # the network may come back: wait and retry
            log.warning("replay waiting: %s", exc)
            return
        end = rng.end
        host.ctx.source = source
        # Symbols only stored are never asked of the source (it would count them empty).
        self._stored_only = set(symbols) - rng.collect
        if self._stored_only:
            log.info(
                "replaying stored bars of %s (the source has none; it is not asked for them)",
                ", ".join(sorted(self._stored_only)),
            )
        start = opts.from_date or self._resume_from or replay_clock.default_from(self.exchange, end)
        if not opts.from_date and not rng.collect and rng.first_stored:
            start = max(start, rng.first_stored)
        if opts.from_date and opts.from_date > end:
            raise AssistantError(
                f"--from {start} is after the end of the data ({end}): nothing to replay"
            )
        clock = replay_clock.ReplayClock(self.exchange, start, end)
        log.info(
            "replay %s .. %s: %d sessions at %s sessions/s",
            start,
            end,
            len(clock.sessions),
            opts.speed or "max",
        )
        # Resumed where the previous run stopped: commands act as of its last session
        # until this run completes one (a finished replay has none left to complete).
        before = self._resumed_after if start == self._resume_from else None
        if before and not clock.sessions:
            log.info(
                "the replay already finished at %s; serving commands as of that session "
                "(`daemon --replay --from DATE` starts a new replay)",
                before,
            )
        run_id = job_runs.start(host.db, "replay", scheduled_for=start)
        self.run = ReplayRun(clock, run_id, jobs.Throttled(host.db, run_id), before=before)
        host.set_state(State.RUNNING)

    def _collect_symbols(self) -> list[str] | None:
        """What a replay step collects: None = the whole watchlist; [] = nothing."""
        if not self._stored_only:
            return None
        return [s for s in watch.active_symbols(self.host.db) if s not in self._stored_only]

    def _retrain_every(self) -> int:
        return self.opts.retrain_every or int(self.host.settings.schedule.retrain_every_days)

    def retrain_due(self, n: int) -> bool:
        """Whether session n (1-based) of the replay starts with a retrain: the first one
        and every `retrain_every` after it, as the backtest's blocks start."""
        return (n - 1) % self._retrain_every() == 0

    def _reveal(self, clock: replay_clock.ReplayClock, sim: date) -> bool:
        """Reveal session `sim` (collect up to it) and, when a retrain is due, start it on
        the bars up to `sim`: the backtest's walk-forward refit at the start of a block
        (trained through the last label matured by `sim`). False if a stop cut it short."""
        host, n = self.host, clock.done + 1
        ctx = host.ctx
        collect = self._collect_symbols()
        if collect != []:
            if host.stop.is_set():
                return False
            jobs.run_job(
                host.db,
                "collect",
                lambda p: jobs.collect(ctx, p, collect, until=sim),
                scheduled_for=sim,
            )
        if self.retrain_due(n):
            self._trains_for = sim
            host.worker.submit(
                TrainRequest(
                    reason=f"every {self._retrain_every()} sessions", as_of=sim, walk_forward=True
                )
            )
        return True

    def _hours_done(self, sim: date) -> bool:
        """Whether session `sim`'s hours (if it has hourly bars) have all been replayed."""
        if self._hours_for != sim:
            from store import quotes

            self._hours_for, self._hour = sim, 0
            live = int(self.host.settings.live.poll_minutes) > 0
            self._slots = quotes.session_slots(self.host.db, sim) if live else 0
        return self._hour >= self._slots

    def _replay_hour(self, sim: date) -> bool:
        """Quote one hour of session `sim` from its hourly bars; the hours and the session's
        own step share the session's time at the replay's speed."""
        from assistant.ingest.quotes import replay_hour

        host = self.host
        replay_hour(host.db, host.settings, sim, self._hour)
        self._hour += 1
        speed = self.opts.speed
        self._next_step = host.clock() + (1.0 / (speed * (self._slots + 1)) if speed > 0 else 0.0)
        return speed <= 0

    def _step(self, clock: replay_clock.ReplayClock, sim: date) -> bool:
        """One simulated session, once revealed (and its due retrain done); False if a stop
        request cut it short."""
        host, n = self.host, clock.done + 1
        ctx = host.ctx
        day = sim
        steps: list[tuple[str, jobs.Job]] = [
            ("cycle", lambda p: jobs.cycle(ctx, p, as_of=day)),
            # the paper account before verify: the digest (after verify) shows it stepped
            ("paper", lambda p: jobs.paper(ctx, p, as_of=day)),
            ("verify", lambda p: jobs.verify(ctx, p, as_of=day)),
        ]
        if self.opts.drift_every and n % self.opts.drift_every == 0:
            steps.append(("drift", lambda p: jobs.drift(ctx, p, as_of=day)))
        for job, fn in steps:
            if host.stop.is_set():
                return False
            jobs.run_job(host.db, job, fn, scheduled_for=sim)
        daemon_state.heartbeat(host.db, sim_date=sim)
        return True

    def _finish(self, run: ReplayRun) -> bool:
        """The data ran out: the replay is finished, and serves commands from now on."""
        host = self.host
        last = self.as_of()
        job_runs.finish(host.db, run.run_id, "ok", f"replay finished at {last}")
        run.finished = True
        host.set_state(State.FINISHED, sim_date=last)
        # Nothing trains after the replay unless a user asks: scheduled and drift retrains
        # (waiting, running, or still queued as commands) are cancelled.
        dropped = host.worker.cancel_unrequested(host.db)
        n = commands.cancel_scheduled_retrains(host.db, worker.CANCELLED)
        if dropped or n:  # one line for the whole burst
            log.info(
                "%d scheduled training(s) cancelled: nobody asked for them "
                "(%d running or waiting, %d queued by drift checks)",
                dropped + n,
                dropped,
                n,
            )
        log.info("replay finished at %s; still serving commands", last)
        return False
