"""The daemon loop: a small state machine driving jobs, commands and a heartbeat.

States: starting -> running -> (replay only) finished -> stopping -> stopped, plus
`waiting` while a replay has nothing to replay yet. Each tick runs what is due (a live
`schedule` slot, or the next replay session), then serves queued commands, then
heartbeats, then sleeps until the next event. A replay session where a retrain is due
(the first, then every `retrain_every`) is revealed, the training starts on the bars up
to it, and the clock waits (commands and heartbeats go on) until it is done: a replay
serves the models the walk-forward backtest would, never stale ones. Clock and sleep are
injectable; the default sleep waits on the `stop` event, so SIGTERM/SIGINT wake the loop
at once.
Stopping never claims another command, lets the current step finish (or leaves a
replay step unrecorded so it is redone on resume), and asks training to abort.

A full disk stops the pass where it hit (the run recorded failed where the disk takes
that): one logged error, then a write is tried again with a growing pause (up to
DISK_FULL_MAX_WAIT_S). Once one goes through, the loop goes on where it was: a replay
redoes its session, a live daemon catches up the slots it missed.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from assistant import __version__
from assistant.alerts.worker import AlertSender
from assistant.config import Settings
from assistant.daemon import jobs, malloc, replay, scheduler, worker
from assistant.daemon.commands import CommandRunner
from assistant.daemon.heartbeat import BusyBeat
from assistant.daemon.lock import DaemonLock
from assistant.daemon.logs import setup_logging
from assistant.daemon.worker import TrainingWorker, TrainRequest
from assistant.errors import AssistantError, TemporaryError
from store import bars, commands, daemon_state, registry
from store import jobs as job_runs
from store import symbols as watch
from store.daemon_state import State
from store.db import StoreError, checkpoint, disk_full_error, is_disk_full, open_db

log = logging.getLogger("assistant.daemon")

STOP_GRACE_S = 8.0  # how long shutdown waits for training to abort (exit within 10 s)
DISK_FULL_FIRST_WAIT_S = 2.0
DISK_FULL_MAX_WAIT_S = 60.0
TRAINING_POLL_S = 0.05  # a replay waiting on its due retrain looks again this often


@dataclass
class ReplayOptions:
    from_date: str | None = None
    speed: float = 5.0  # sessions per second; 0 = as fast as possible
    retrain_every: int | None = None  # sessions; default settings.schedule.retrain_every_days
    drift_every: int = 5  # sessions between drift checks


@dataclass
class ReplayRun:
    """A prepared replay: its sessions, and the job_runs row it reports to."""

    clock: replay.ReplayClock
    run_id: int
    progress: jobs._Throttled
    finished: bool = False
    before: str | None = None  # the session a resumed replay had completed before its clock


class Daemon:
    """One loop for both modes: `replay_options` given means replay, else live.

    Replay-only state lives in `self.replay` (a `ReplayRun`, set once the replay's range is
    known) and live-only state in `self.live`; each is None in the other mode.
    """

    def __init__(
        self,
        home: Path,
        settings: Settings,
        *,
        replay_options: ReplayOptions | None = None,
        source: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        log_to_file: bool = False,
        log_to_stderr: bool = True,
        poll_s: float = 0.25,
    ):
        self.home, self.settings = Path(home), settings
        self.opts = replay_options
        self.mode: Literal["live", "replay"] = "replay" if replay_options else "live"
        self.source = source
        self.clock, self.now = clock, now
        self.stop = threading.Event()
        self.reload = threading.Event()  # SIGHUP: read the configuration again
        self.sleep = sleep or self.stop.wait
        self.log_to_file, self.log_to_stderr = log_to_file, log_to_stderr
        self.poll_s = poll_s
        self.heartbeat_s = float(settings.daemon.heartbeat_seconds)
        self.exchange = settings.calendar.exchange
        self.state = State.STARTING
        self.db: Any = None
        self.beat: BusyBeat | None = None
        self.alerts: AlertSender | None = None
        self._started_at: str | None = None
        self.worker = TrainingWorker(self.home, settings, self.stop, self.session_now)
        self.replay: ReplayRun | None = None
        self._resume_from: str | None = None
        self._resumed_after: str | None = None  # the previous replay's last session
        self._next_step = 0.0
        self._next_beat = 0.0
        self._next_checkpoint = 0.0
        self._next_prepare = 0.0
        self._revealed: str | None = None  # the replay session collected (and retrain started)
        self._trains_for: str | None = None  # the session whose due retrain the clock waits for
        self._stored_only: set[str] = set()
        self.live: scheduler.LiveSchedule | None = None
        self._started = False
        self._full_tries = 0  # failed tries in a row since the disk filled up

    # ---- lifecycle ----

    def request_stop(self, *_: object) -> None:
        self.stop.set()

    def request_reload(self, *_: object) -> None:
        self.reload.set()  # the loop reloads between steps (within poll_s when idle)

    def reload_config(self) -> None:
        """Read `<home>/config.toml` (and the environment) again and use it from now on.

        A configuration that does not load keeps the running one, with one logged error.
        Jobs from now on see the new settings (a training already running finishes with
        the old); the live schedule is rebuilt. A running replay keeps its exchange and
        its sessions.
        """
        from assistant import config

        try:
            new = config.load(self.home)
            live = scheduler.LiveSchedule(new, self.fire_slot) if self.live is not None else None
        except Exception as exc:  # a bad timezone fails building the schedule
            log.error("configuration not reloaded, keeping the running one: %s", exc)
            return
        old = self.settings.as_dict()
        changed = [
            f"{section}.{key}"
            for section, keys in new.as_dict().items()
            for key, value in keys.items()
            if old[section][key] != value
        ]
        self.settings = self.ctx.settings = self.worker.settings = new
        if self.alerts is not None:
            self.alerts.settings = new
        self.heartbeat_s = float(new.daemon.heartbeat_seconds)
        if live is not None:
            self.live = live
        log.info(
            "configuration reloaded: %s",
            ", ".join(changed) + " changed" if changed else "no change",
        )

    def run(self) -> int:
        lock = DaemonLock(self.home).acquire()  # raises AlreadyRunning with the holder's pid
        try:
            if self.log_to_file or self.log_to_stderr:
                setup_logging(self.home, to_file=self.log_to_file, to_stderr=self.log_to_stderr)
            malloc.tune()  # big training buffers are mmapped, so freeing them returns them
            try:
                self.db = open_db(self.home, check=True)  # never write into a damaged file
            except StoreError as exc:
                log.error("not starting: %s", exc)
                raise
            self.beat = BusyBeat(self.home, self.heartbeat_s).start()
            self.alerts = AlertSender(self.home, self.settings).start()  # its own thread
            while not self.stop.is_set():
                try:
                    busy = self._step()
                except Exception as exc:
                    if not is_disk_full(exc, self.home):
                        raise
                    self._out_of_room(exc)
                    continue
                if not busy:
                    self.sleep(self._idle_for())
        finally:
            if self.beat is not None:
                self.beat.close()
            self.stop.set()
            if self.db is not None:
                try:
                    self._shutdown()
                except Exception as exc:
                    if not is_disk_full(exc, self.home):
                        raise
                    log.error("the stop is not recorded: %s", disk_full_error(self.home, exc))
                finally:
                    self.db.close()
            if self.alerts is not None:
                self.alerts.close(self._started_at)
            lock.release()
        return 0

    def _step(self) -> bool:
        if self._full_tries:  # after a full disk, a write first: it raises while still full
            daemon_state.set_state(self.db, self.state, sim_date=self.as_of())
        if not self._started:
            self._start()
        if self._full_tries:
            self._room_again()
        assert self.beat is not None
        with self.beat:  # a long step keeps the heartbeat fresh (for a while)
            return self._tick()

    def _out_of_room(self, exc: Exception) -> None:
        self._full_tries += 1
        if self._full_tries == 1:
            log.error(
                "%s; waiting for room (trying again every %.0f s at most)",
                disk_full_error(self.home, exc),
                DISK_FULL_MAX_WAIT_S,
            )
        wait = DISK_FULL_FIRST_WAIT_S * 2 ** min(self._full_tries - 1, 10)
        self.sleep(min(wait, DISK_FULL_MAX_WAIT_S))

    def _room_again(self) -> None:
        """The disk took a write again: record what it refused, catch up what was missed."""
        recorded = jobs.record_unrecorded(self.db)
        if self.mode == "live":
            self._start_live()  # the slots missed meanwhile run now
        log.info(
            "the disk has room again after %d failed tries; going on%s",
            self._full_tries,
            f" ({recorded} run end(s) recorded late)" if recorded else "",
        )
        self._full_tries = 0

    def _set_state(self, state: State, sim_date: str | None = None) -> None:
        if state != self.state:
            log.info("state: %s -> %s", self.state.value, state.value)
        self.state = state
        daemon_state.set_state(self.db, state, sim_date=sim_date)

    def _start(self) -> None:
        previous = daemon_state.read(self.db)
        interrupted = job_runs.mark_interrupted(self.db)
        requeued, failed = commands.recover_after_crash(self.db)
        if interrupted or requeued or failed:
            log.warning(
                "recovered from an unclean stop: %d job runs marked interrupted, "
                "%d commands re-queued, %d failed after repeated interruption",
                interrupted,
                requeued,
                failed,
            )
        daemon_state.started(self.db, pid=os.getpid(), mode=self.mode, version=__version__)
        self._started_at = (daemon_state.read(self.db) or {}).get("started_at")
        self.ctx = jobs.Context(self.db, self.home, self.settings, self.source)
        self.runner = CommandRunner(
            self.ctx, self.worker, self.as_of, lambda: self.mode == "replay"
        )
        self._started = True  # what follows, a full disk redoes from the loop
        log.info("daemon started (pid %d, mode %s, home %s)", os.getpid(), self.mode, self.home)
        for q in registry.quarantines(self.db):  # one quarantined since, by the CLI, say
            log.warning(registry.quarantine_notice(q))
        if self.opts is not None:
            self._resume_from = replay.resume_date(previous, self.exchange)
            if previous is not None and self._resume_from:
                self._resumed_after = previous["sim_date"]
            self._set_state(State.WAITING)
            if self._resumed_after:
                # keep the resume point should this run die before a step
                daemon_state.heartbeat(self.db, sim_date=self._resumed_after)
            self._prepare_replay(self.opts)
        else:
            self._set_state(State.RUNNING)
            self._start_live()

    def _shutdown(self) -> None:
        self._set_state(State.STOPPING)
        log.info("stopping: no more commands are claimed")
        run = self.replay
        if run is not None and not run.finished:
            job_runs.finish(
                self.db, run.run_id, "interrupted", f"stopped before session {run.clock.current}"
            )
        if not self.worker.join(STOP_GRACE_S):
            log.warning(
                "training did not stop within %.0f s; it is abandoned unregistered", STOP_GRACE_S
            )
        self._set_state(State.STOPPED)
        daemon_state.stopped(self.db)
        log.info("daemon stopped")

    def as_of(self) -> str | None:
        """The session commands act on: the simulated one in replay, None (latest) live."""
        if self.replay is None:
            return None
        clock = self.replay.clock
        return clock.sessions[clock.done - 1] if clock.done else self.replay.before

    def session_now(self) -> str | None:
        """The session a model registered now is known on: in replay, the one whose cycle
        may not have run yet (the one being stepped or next; its last once finished);
        live, today. None while a replay has not started."""
        if self.opts is None:
            return self.now().date().isoformat()
        if self.replay is None:
            return None
        clock = self.replay.clock
        return clock.current or (clock.sessions[-1] if clock.sessions else None)

    # ---- the loop ----

    def _tick(self) -> bool:
        """One pass; True when there is more work right now (skip the sleep)."""
        more = False
        if self.reload.is_set():
            self.reload.clear()
            self.reload_config()
        if self.opts is not None:
            more = self._replay_tick(self.opts)
        elif self.live is not None:
            self.live.run_pending()
        # Commands act as of the replay's session: before its first one is done (it may wait
        # for its due retrain) they stay queued rather than fail.
        first = self.replay is not None and self.state == State.RUNNING and self.as_of() is None
        if not self.stop.is_set() and not first:
            more = self.runner.serve(self.stop) or more
        t = self.clock()
        if t >= self._next_beat:
            daemon_state.heartbeat(self.db, sim_date=self.as_of())
            self._next_beat = t + self.heartbeat_s
        if t >= self._next_checkpoint:
            checkpoint(self.db)  # keeps the -wal file from growing while readers come and go
            self._next_checkpoint = t + 60.0
        return more

    def _idle_for(self) -> float:
        t = self.clock()
        wait = min(self.poll_s, max(0.0, self._next_beat - t))
        if self.state == State.RUNNING and self.opts is not None:
            wait = min(wait, max(0.0, self._next_step - t))
        if self.live is not None:
            wait = min(wait, self.live.idle_seconds())
        return wait

    # ---- live mode ----

    def _start_live(self) -> None:
        if self.live is None:
            self.live = scheduler.LiveSchedule(self.settings, self.fire_slot)
        has_run = {"daily": "collect", "drift": "drift"}
        for name, slot in self.live.missed(
            self.now(), lambda n, key: job_runs.ran_for(self.db, has_run[n], key)
        ):
            log.info("catching up the missed %s run of %s", name, scheduler.slot_key(slot))
            self.fire_slot(name, slot)
        if not self.worker.busy:
            self._train_if_untrained(None)

    def fire_slot(self, name: str, slot: datetime) -> None:
        key = scheduler.slot_key(slot)
        ctx = self.ctx
        if name == "daily":
            if job_runs.ran_for(self.db, "collect", key):
                return
            for job, fn in (
                ("collect", jobs.collect),
                ("cycle", jobs.cycle),
                ("paper", jobs.paper),
                ("verify", jobs.verify),
            ):
                if self.stop.is_set():
                    return
                jobs.run_job(self.db, job, functools.partial(fn, ctx), scheduled_for=key)
        elif name == "drift":
            if job_runs.ran_for(self.db, "drift", key):
                return
            jobs.run_job(self.db, "drift", lambda p: jobs.drift(ctx, p), scheduled_for=key)
            self._retrain_if_due_live()

    def _retrain_if_due_live(self) -> None:
        every = int(self.settings.schedule.retrain_every_days)
        last = job_runs.last(self.db, "retrain", status="ok")
        if last is not None:
            age = self.now() - datetime.fromisoformat(last["started_at"])
            if age.total_seconds() < every * 86400 - 3600:
                return
        if not self.worker.busy:
            self.worker.submit(TrainRequest(reason=f"every {every} days"))

    def _train_if_untrained(self, as_of: str | None) -> None:
        if self.worker.completed or self.worker.busy:
            return  # a training already ran or runs in this process
        if not registry.any_serving(self.db):
            # Rule-based calls serve at once; model calls take over when training lands.
            self.worker.submit(TrainRequest(reason="no trained model yet", as_of=as_of))

    # ---- replay mode ----

    def _prepare_replay(self, opts: ReplayOptions) -> None:
        """Find the replay's range and reveal history up to its start (retried while waiting)."""
        self._next_prepare = self.clock() + 10.0
        symbols = watch.active_symbols(self.db)
        if not symbols:
            log.info(
                "replay waiting: the watchlist is empty (add symbols with `assistant watch add`)"
            )
            return
        source, source_error = self.source, ""
        try:
            from assistant.ingest.collect import make_source

            source = source or make_source(self.settings, home=self.home)
        except AssistantError as exc:  # misconfigured: stored bars may still replay
            source, source_error = None, str(exc)
        try:
            rng = replay.find_range(source, bars.span(self.db, symbols), symbols, source_error)
        except TemporaryError as exc:  # the network may come back: wait and retry
            log.warning("replay waiting: %s", exc)
            return
        end = rng.end
        self.ctx.source = self.source = source
        # Symbols only stored are never asked of the source (it would count them empty).
        self._stored_only = set(symbols) - rng.collect
        if self._stored_only:
            log.info(
                "replaying stored bars of %s (the source has none; it is not asked for them)",
                ", ".join(sorted(self._stored_only)),
            )
        start = opts.from_date or self._resume_from or replay.default_from(self.exchange, end)
        if not opts.from_date and not rng.collect and rng.first_stored:
            start = max(start, rng.first_stored)
        if opts.from_date and opts.from_date > end:
            raise AssistantError(
                f"--from {start} is after the end of the data ({end}): nothing to replay"
            )
        clock = replay.ReplayClock(self.exchange, start, end)
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
        run_id = job_runs.start(self.db, "replay", scheduled_for=start)
        self.replay = ReplayRun(clock, run_id, jobs._Throttled(self.db, run_id), before=before)
        self._set_state(State.RUNNING)

    def _replay_tick(self, opts: ReplayOptions) -> bool:
        if self.state == State.WAITING:
            if self.clock() >= self._next_prepare:
                self._prepare_replay(opts)
            return False
        run = self.replay
        if self.state != State.RUNNING or run is None or self.clock() < self._next_step:
            return False
        clock = run.clock
        sim = clock.current
        if sim is None:
            return self._finish_replay(run)
        if self._revealed != sim:
            if not self._reveal(opts, clock, sim):
                return False  # stopping mid-step: the session is redone on resume
            self._revealed = sim
        if self._trains_for == sim and self.worker.busy:
            # The clock does not pass a due retrain until it is done; look again in a
            # moment (not in a spin: that would starve the training thread of the GIL and
            # of the write lock its own writes need).
            self._next_step = self.clock() + TRAINING_POLL_S
            return False
        if not self.replay_step(opts, clock, sim):
            return False  # stopping mid-step: the session is redone on resume
        clock.advance()
        run.progress(clock.fraction(), f"session {sim} ({clock.done}/{len(clock.sessions)})")
        speed = opts.speed
        self._next_step = self.clock() + (1.0 / speed if speed > 0 else 0.0)
        return speed <= 0

    def _collect_symbols(self) -> list[str] | None:
        """What a replay step collects: None = the whole watchlist; [] = nothing."""
        if not self._stored_only:
            return None
        return [s for s in watch.active_symbols(self.db) if s not in self._stored_only]

    def retrain_due(self, opts: ReplayOptions, n: int) -> bool:
        """Whether session n (1-based) of the replay starts with a retrain: the first one
        and every `retrain_every` after it, as the backtest's blocks start."""
        every = opts.retrain_every or int(self.settings.schedule.retrain_every_days)
        return (n - 1) % every == 0

    def _reveal(self, opts: ReplayOptions, clock: replay.ReplayClock, sim: str) -> bool:
        """Reveal session `sim` (collect up to it) and, when a retrain is due, start it on
        the bars up to `sim`: the backtest's walk-forward refit at the start of a block
        (trained through the last label matured by `sim`). False if a stop cut it short."""
        ctx, n = self.ctx, clock.done + 1
        collect = self._collect_symbols()
        if collect != []:
            if self.stop.is_set():
                return False
            jobs.run_job(
                self.db,
                "collect",
                lambda p: jobs.collect(ctx, p, collect, until=sim),
                scheduled_for=sim,
            )
        if self.retrain_due(opts, n):
            every = opts.retrain_every or int(self.settings.schedule.retrain_every_days)
            self._trains_for = sim
            self.worker.submit(
                TrainRequest(reason=f"every {every} sessions", as_of=sim, walk_forward=True)
            )
        return True

    def replay_step(self, opts: ReplayOptions, clock: replay.ReplayClock, sim: str) -> bool:
        """One simulated session, once revealed (and its due retrain done); False if a stop
        request cut it short."""
        ctx, n = self.ctx, clock.done + 1
        steps: list[tuple[str, Callable[[jobs.Progress], tuple[Any, str]]]] = [
            ("cycle", lambda p: jobs.cycle(ctx, p, as_of=sim)),
            # the paper account before verify: the digest (after verify) shows it stepped
            ("paper", lambda p: jobs.paper(ctx, p, as_of=sim)),
            ("verify", lambda p: jobs.verify(ctx, p, as_of=sim)),
        ]
        if opts.drift_every and n % opts.drift_every == 0:
            steps.append(("drift", lambda p: jobs.drift(ctx, p, as_of=sim)))
        for job, fn in steps:
            if self.stop.is_set():
                return False
            jobs.run_job(self.db, job, fn, scheduled_for=sim)
        daemon_state.heartbeat(self.db, sim_date=sim)
        return True

    def _finish_replay(self, run: ReplayRun) -> bool:
        last = self.as_of()
        job_runs.finish(self.db, run.run_id, "ok", f"replay finished at {last}")
        run.finished = True
        self._set_state(State.FINISHED, sim_date=last)
        # Nothing trains after the replay unless a user asks: scheduled and drift retrains
        # (waiting, running, or still queued as commands) are cancelled.
        dropped = self.worker.cancel_unrequested(self.db)
        n = commands.cancel_scheduled_retrains(self.db, worker.CANCELLED)
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
