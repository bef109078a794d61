"""The daemon loop: a small state machine driving jobs, commands and a heartbeat.

States: starting -> running -> (replay only) finished -> stopping -> stopped, plus
`waiting` while a replay has nothing to replay yet. Each tick runs what its driver says
is due (a live `schedule` slot, or the next replay session: `live_driver`,
`replay_driver`), then serves queued commands, then heartbeats, then sleeps until the
next event. Clock and sleep are injectable; the default sleep waits on the `stop`
event, so SIGTERM/SIGINT wake the loop at once.
Stopping never claims another command, lets the current step finish (or leaves a
replay step unrecorded so it is redone on resume), and asks training to abort.

A full disk stops the pass where it hit (the run recorded failed where the disk takes
that): one logged error, then a write is tried again with a growing pause (up to
DISK_FULL_MAX_WAIT_S). Once one goes through, the loop goes on where it was: a replay
redoes its session, a live daemon catches up the slots it missed.

The database file at the home's path must stay the one the daemon opened. A restore done
without stopping the daemon first, or a file copied onto it, puts another file there
while the daemon's connections still write to the old one (unlinked or moved aside: all
it writes is lost). Each tick compares the path's device and inode with the opened
file's; on a change the daemon says so in its log and stops cleanly with exit status
EXIT_REPLACED, rather than reopening in place: the new file may still be being copied
(or not there yet: opening would create an empty home), and a fresh start runs the one
tested recovery (interrupted runs, re-queued commands, the catch-up of missed slots) on
it. Under systemd (Restart=on-failure) the non-zero status brings the daemon back on
the new file; a detached daemon is started again with `assistant start`.

An upgrade made under the running daemon (its source files changed on disk, or a newer
version's command migrated the database: `upgrade`) is checked every
`upgrade.CHECK_EVERY_HEARTBEATS` heartbeats: a live daemon stops cleanly (a training under
way ends first) and sets `restart`; `assistant daemon` then runs itself again in place
with the program now installed. A replay keeps the code it started with (its log says so
once) and stops on unknown schema steps.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import sqlite_utils

from assistant import __version__
from assistant.alerts.worker import AlertSender
from assistant.config import Settings, universe_problem
from assistant.daemon import jobs, malloc, upgrade
from assistant.daemon.commands import CommandRunner
from assistant.daemon.driver import Driver
from assistant.daemon.heartbeat import BusyBeat
from assistant.daemon.live_driver import LiveDriver
from assistant.daemon.lock import DaemonLock
from assistant.daemon.logs import setup_logging
from assistant.daemon.replay_driver import TRAINING_POLL_S, ReplayDriver, ReplayOptions
from assistant.daemon.worker import TrainingWorker
from assistant.ingest.sources.base import Source
from store import commands, daemon_state, registry
from store import jobs as job_runs
from store.daemon_state import State
from store.db import (
    DB_FILENAME,
    StoreError,
    cannot_write,
    cannot_write_error,
    checkpoint,
    file_id,
    is_locked,
    open_db,
    unknown_schema_steps,
)

__all__ = ["Daemon", "ReplayOptions", "TRAINING_POLL_S"]

log = logging.getLogger("assistant.daemon")

STOP_GRACE_S = 8.0  # how long shutdown waits for training to abort (exit within 10 s)
DISK_FULL_FIRST_WAIT_S = 2.0
DISK_FULL_MAX_WAIT_S = 60.0
CHECKPOINT_EVERY_S = 60.0
EXIT_REPLACED = 75  # EX_TEMPFAIL: the database file was replaced under the daemon
EXIT_UPGRADED = 75  # the same: run again (in place, or by systemd) with the program installed now


class Daemon:
    """One loop for both modes: `replay_options` given means a `ReplayDriver`, else a
    `LiveDriver`; the loop itself never asks which."""

    def __init__(
        self,
        home: Path,
        settings: Settings,
        *,
        replay_options: ReplayOptions | None = None,
        source: Source | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        log_to_file: bool = False,
        log_to_stderr: bool = True,
        poll_s: float = 0.25,
    ):
        self.home, self.settings = Path(home), settings
        self.source = source
        self.clock, self.now = clock, now
        self.stop = threading.Event()
        self.reload = threading.Event()  # SIGHUP: read the configuration again
        self.sleep = sleep or self.stop.wait
        self.log_to_file, self.log_to_stderr = log_to_file, log_to_stderr
        self.poll_s = poll_s
        self.heartbeat_s = float(settings.daemon.heartbeat_seconds)
        self.state = State.STARTING
        self._db: sqlite_utils.Database | None = None  # opened by run()
        self.beat: BusyBeat | None = None
        self.alerts: AlertSender | None = None
        self._started_at: str | None = None
        self.driver: Driver = (
            ReplayDriver(self, replay_options, settings.calendar.exchange)
            if replay_options is not None
            else LiveDriver(self)
        )
        self.worker = TrainingWorker(
            self.home, settings, self.stop, self.driver.session_now, lambda: self._file_id
        )
        self._next_beat = 0.0
        self._next_checkpoint = 0.0
        self._started = False
        self._full_tries = 0  # failed tries in a row since the disk filled up (or the lock held)
        self._waited = "room"  # what those tries wait for: "room" or "the lock"
        self._file_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self.exit_code = 0
        self.restart = False  # stopped for an upgrade: `assistant daemon` runs itself again
        self._code: upgrade.CodeWatch | None = None  # made when the loop starts
        self._next_upgrade_check = 0.0
        self._said_upgrade = ""  # what the log said about a deferred restart, once

    @property
    def db(self) -> sqlite_utils.Database:
        assert self._db is not None, "the store opens when the daemon runs"
        return self._db

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
            self.driver.reload(new)
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
                self._db = open_db(self.home, check=True)  # never write into a damaged file
            except StoreError as exc:
                log.error("not starting: %s", exc)
                raise
            self._file_id = self._path_id()
            self._code = upgrade.CodeWatch()
            self._next_upgrade_check = self.clock() + self._upgrade_every()
            self._sweep_partials()
            self.beat = BusyBeat(self.home, self.heartbeat_s, expect=self._file_id).start()
            self.alerts = AlertSender(
                self.home, self.settings, expect=self._file_id
            ).start()  # its own thread
            while not self.stop.is_set():
                if self._replaced() or self._upgraded():
                    break
                try:
                    busy = self._step()
                except Exception as exc:
                    if not cannot_write(exc, self.home):
                        raise
                    self._out_of_room(exc)
                    continue
                if not busy:
                    self.sleep(self._idle_for())
        finally:
            if self.beat is not None:
                self.beat.close()
            self.stop.set()
            if self._db is not None:
                try:
                    self._shutdown()
                except Exception as exc:
                    if not cannot_write(exc, self.home):
                        raise
                    log.error("the stop is not recorded: %s", cannot_write_error(self.home, exc))
                finally:
                    self.db.close()
            if self.alerts is not None:
                # (a replaced file: no stop alert; opening the path could create a new home)
                self.alerts.close(
                    None if self.exit_code else self._started_at, notify=not self.exit_code
                )
            lock.release()
        return self.exit_code

    def _path_id(self) -> tuple[int, int] | None:
        return file_id(self.home / DB_FILENAME)

    def _replaced(self) -> bool:
        """Whether the file at the home's path is no longer the one opened (then: stop)."""
        now = self._path_id()
        if now == self._file_id:
            return False
        path = self.home / DB_FILENAME
        what = "is gone (moved or deleted)" if now is None else "was replaced by another file"
        log.error(
            "%s %s while the daemon ran (a restore without `assistant stop` first, or a "
            "file copied onto it): what the daemon wrote since went to the old file. "
            "Stopping so as not to lose more; start the daemon again (`assistant start`) "
            "to use the file now there",
            path,
            what,
        )
        self.exit_code = EXIT_REPLACED
        self.stop.set()
        return True

    def _upgraded(self) -> bool:
        """Whether the program was upgraded under the daemon and it should stop to run the
        new one (checked every CHECK_EVERY_HEARTBEATS heartbeats)."""
        t = self.clock()
        if t < self._next_upgrade_check or self._code is None:
            return False
        self._next_upgrade_check = t + self._upgrade_every()
        unknown = unknown_schema_steps(self.db)
        if unknown:
            log.error(
                "the database was upgraded by a newer trading-assistant while this daemon "
                "(%s) ran (schema steps it does not know: %s); stopping so as not to write "
                "into a schema it does not know%s",
                __version__,
                ", ".join(unknown),
                ""
                if self.driver.mode == "replay"
                else "; running again with the program installed now",
            )
            return self._stop_for_upgrade()
        changed = self._code.settled_change()
        if not changed:
            return False
        what = upgrade.describe(changed, self._code.dirs)
        if self.driver.mode == "replay":
            if self._said_upgrade != "replay":
                log.warning(
                    "the program's files changed since this replay started (%s); it goes on "
                    "with the code it started with (start it again to use the new code)",
                    what,
                )
                self._said_upgrade = "replay"
            return False
        if self.worker.busy:
            if self._said_upgrade != "busy":
                log.info(
                    "the program's files changed since the daemon started (%s); it runs "
                    "again with the new code once the training under way ends",
                    what,
                )
                self._said_upgrade = "busy"
            return False
        log.info(
            "the program's files changed since the daemon started (%s, an upgrade?); "
            "stopping to run again with the new code",
            what,
        )
        return self._stop_for_upgrade()

    def _upgrade_every(self) -> float:
        return upgrade.CHECK_EVERY_HEARTBEATS * self.heartbeat_s

    def _stop_for_upgrade(self) -> bool:
        self.exit_code = EXIT_UPGRADED
        self.restart = self.driver.mode != "replay"
        self.stop.set()
        return True

    def _sweep_partials(self) -> None:
        from store import partials

        removed = partials.sweep(self.home)
        if removed:
            log.warning(partials.swept_message(removed))

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
            self._waited = "the lock" if is_locked(exc) else "room"
            log.error(
                "%s; waiting for %s (trying again every %.0f s at most)",
                cannot_write_error(self.home, exc),
                self._waited,
                DISK_FULL_MAX_WAIT_S,
            )
        wait = DISK_FULL_FIRST_WAIT_S * 2 ** min(self._full_tries - 1, 10)
        self.sleep(min(wait, DISK_FULL_MAX_WAIT_S))

    def _room_again(self) -> None:
        """The disk took a write again: record what it refused, catch up what was missed."""
        recorded = jobs.record_unrecorded(self.db)
        self.driver.room_again()
        log.info(
            "%s after %d failed tries; going on%s",
            "the database takes writes again"
            if self._waited == "the lock"
            else "the disk has room again",
            self._full_tries,
            f" ({recorded} run end(s) recorded late)" if recorded else "",
        )
        self._full_tries = 0

    def set_state(self, state: State, sim_date: date | None = None) -> None:
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
        mode = self.driver.mode
        daemon_state.started(self.db, pid=os.getpid(), mode=mode, version=__version__)
        row = daemon_state.read(self.db)
        self._started_at = row["started_at"] if row else None
        self.ctx = jobs.Context(self.db, self.home, self.settings, self.source)
        self.runner = CommandRunner(self.ctx, self.worker, self.as_of, lambda: mode == "replay")
        self._started = True  # what follows, a full disk redoes from the loop
        log.info("daemon started (pid %d, mode %s, home %s)", os.getpid(), mode, self.home)
        for q in registry.quarantines(self.db):  # one quarantined since, by the CLI, say
            log.warning(registry.quarantine_notice(q))
        why = universe_problem(self.settings)
        if why:  # it runs on; the ranking is neither trained nor scored until it is back
            log.warning("%s: the ranking is not trained or ranked on until it is back", why)
        self.driver.start(previous)

    def _shutdown(self) -> None:
        self.set_state(State.STOPPING)
        log.info("stopping: no more commands are claimed")
        self.driver.stopping()
        if not self.worker.join(STOP_GRACE_S):
            log.warning(
                "training did not stop within %.0f s; it is abandoned unregistered", STOP_GRACE_S
            )
        self.set_state(State.STOPPED)
        daemon_state.stopped(self.db)
        log.info("daemon stopped")

    def as_of(self) -> date | None:
        """The session commands act on: the simulated one in replay, None (latest) live."""
        return self.driver.as_of()

    # ---- the loop ----

    def _tick(self) -> bool:
        """One pass; True when there is more work right now (skip the sleep)."""
        if self.reload.is_set():
            self.reload.clear()
            self.reload_config()
        more = self.driver.run_due()
        if not self.stop.is_set() and not self.driver.holds_commands():
            more = self.runner.serve(self.stop) or more
        t = self.clock()
        if t >= self._next_beat:
            daemon_state.heartbeat(self.db, sim_date=self.as_of())
            self._next_beat = t + self.heartbeat_s
        if t >= self._next_checkpoint:
            checkpoint(self.db)  # keeps the -wal file from growing while readers come and go
            self._next_checkpoint = t + CHECKPOINT_EVERY_S
        return more

    def _idle_for(self) -> float:
        t = self.clock()
        return min(self.poll_s, max(0.0, self._next_beat - t), self.driver.idle_for(t))
