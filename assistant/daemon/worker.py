"""The training worker: retraining runs on its own thread, off the daemon loop.

Collection and prediction go on meanwhile with the last good models. Requests queue up
in order; one that carries a command id finishes that command row when its training
ends. The thread has its own database connection (a connection is never shared across
threads). On shutdown the daemon's `stop` event reaches `train()`, which aborts between
epochs or models and registers nothing partial; the interrupted command goes back to
the queue.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlite_utils

from assistant.config import Settings
from assistant.daemon import jobs, malloc
from store import commands
from store.db import (
    CannotWrite,
    cannot_write,
    cannot_write_error,
    open_db,
)
from vocab.commands import Retrained
from vocab.jsontypes import Json

log = logging.getLogger("assistant.daemon")

CANCELLED = "cancelled: the replay ended; nothing trains after it unless asked"


class _Either(threading.Event):
    """Set when it is set itself (the request was cancelled) or when `other` is (shutdown)."""

    def __init__(self, other: threading.Event):
        super().__init__()
        self.other = other

    def is_set(self) -> bool:
        return super().is_set() or self.other.is_set()


@dataclass(frozen=True)
class TrainRequest:
    """A retrain of the models on the whole watchlist (models are global, and one trained
    on part of it would serve only that part)."""

    reason: str
    kinds: list[str] | None = None
    as_of: date | None = None
    command_ids: tuple[int, ...] = ()
    scheduled: bool = True  # the daemon's own (schedule, drift), not a user's request
    walk_forward: bool = False  # a replay's due retrain: the backtest's refit (see train())


class TrainingWorker:
    def __init__(
        self,
        home: Path,
        settings: Settings,
        stop: threading.Event,
        clock: Callable[[], date | None] | None = None,
        file_id: Callable[[], tuple[int, int] | None] | None = None,
    ):
        """`clock`: the session it is now on the daemon's clock (simulated in replay):
        a model registered then is known on it (see training.train). `file_id`: the
        (st_dev, st_ino) of the database file the daemon opened."""
        self.home, self.settings, self.stop = Path(home), settings, stop
        self.clock = clock
        self.file_id = file_id
        self._queue: deque[TrainRequest] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # set while a thread is taking requests
        self._last: threading.Thread | None = None  # the latest thread, for join()
        self.current: TrainRequest | None = None
        self._abort = _Either(stop)  # the current request's stop: shutdown or cancelled
        self.completed = 0

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None

    def submit(self, request: TrainRequest) -> None:
        with self._lock:
            for i, waiting in enumerate(self._queue):
                # Drift checks and users ask again while one waits: one training serves all,
                # on the latest data any of them asked for.
                if waiting.kinds == request.kinds:
                    self._queue[i] = TrainRequest(
                        waiting.reason,
                        waiting.kinds,
                        max((d for d in (waiting.as_of, request.as_of) if d), default=None),
                        waiting.command_ids + request.command_ids,
                        waiting.scheduled and request.scheduled,
                        waiting.walk_forward or request.walk_forward,
                    )
                    log.info("retrain request merged with a waiting one (%s)", request.reason)
                    return
            self._queue.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="training", daemon=True)
                self._thread.start()
                self._last = self._thread
        log.info("retrain queued (%s)", request.reason)

    def _next(self) -> TrainRequest | None:
        with self._lock:
            if self.stop.is_set() or not self._queue:
                self._thread = None  # under the lock: a submit() after this starts a new thread
                self.current = None
                return None
            self.current = self._queue.popleft()
            self._abort = _Either(self.stop)
            return self.current

    def cancel_unrequested(self, db: sqlite_utils.Database) -> int:
        """Drop the trainings no user asked for (schedule, drift), the running one included.

        A replay that ended calls this: nothing trains after it unless a user asks. The
        running training aborts between epochs or models and registers nothing partial.
        Their command rows (drift's) end failed with the reason. `db` is the caller's
        connection. Returns how many were dropped or aborted (it logs nothing itself).
        """
        with self._lock:
            keep = deque(r for r in self._queue if not r.scheduled)
            gone = [r for r in self._queue if r.scheduled]
            self._queue = keep
            aborted = self.current is not None and self.current.scheduled
            if aborted:
                self._abort.set()  # its command rows are finished by the worker thread
        for req in gone:
            for cid in req.command_ids:
                commands.finish(db, cid, error=CANCELLED)
        return len(gone) + aborted  # the caller says so, in one line with what else it cancels

    def _run(self) -> None:
        try:
            # Only the file the daemon opened: a copy placed beside the old -wal and -shm
            # makes SQLite reset the -shm that the daemon's own connection has mapped
            # (SIGBUS). Gone or replaced: the daemon's loop says why and stops.
            expect = None if self.file_id is None else self.file_id()
            db = open_db(self.home, create=False, expect=expect)
        except Exception as exc:
            log.error("training not started: %s", exc)
            with self._lock:
                self._thread = None
            return
        ctx = jobs.Context(db, self.home, self.settings)
        try:
            while (req := self._next()) is not None:
                try:
                    outcome = jobs.run_job(
                        db,
                        "retrain",
                        functools.partial(
                            _retrain, ctx, req=req, stop=self._abort, clock=self.clock
                        ),
                        scheduled_for=req.reason[:200],
                    )
                except CannotWrite as exc:
                    log.warning("retrain failed: %s", exc)
                    outcome = jobs.Outcome(False, error=str(exc))
                self.completed += 1
                malloc.release()  # the training's freed buffers go back to the OS: RSS stays flat
                cancelled = outcome.interrupted and not self.stop.is_set()
                for cid in req.command_ids:
                    if cancelled:
                        commands.finish(db, cid, error=CANCELLED)
                    elif outcome.interrupted:
                        commands.requeue(db, cid, "the daemon stopped during training; re-queued")
                    else:
                        commands.finish(
                            db, cid, result=Retrained(outcome.result), error=outcome.error
                        )
            with self._lock:
                left, self._queue = list(self._queue), deque()
            for req in left:  # stopping: commands that never started go back to the queue
                for cid in req.command_ids:
                    commands.requeue(db, cid, "the daemon stopped before training; re-queued")
        except Exception as exc:
            if cannot_write(exc, self.home):
                log.error("training worker stopped: %s", cannot_write_error(self.home, exc))
            else:
                log.exception("training worker failed")
            with self._lock:
                self._thread = None
        finally:
            db.close()

    def join(self, timeout: float) -> bool:
        """Wait for the worker to end; False if it is still training after `timeout`."""
        with self._lock:
            thread = self._last
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


def _retrain(
    ctx: jobs.Context,
    progress: jobs.Progress,
    *,
    req: TrainRequest,
    stop: threading.Event,
    clock: Callable[[], date | None] | None,
) -> tuple[Json, str]:
    return jobs.retrain(
        ctx, progress, req.kinds, req.as_of, stop, clock, walk_forward=req.walk_forward
    )
