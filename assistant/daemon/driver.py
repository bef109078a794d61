"""What the daemon loop asks of its mode: a live driver (the wall clock and the
exchange's schedule) or a replay driver (a simulated clock over stored history).

The loop (`loop.Daemon`) does what both modes share: recovery at start, commands, the
heartbeat, the WAL checkpoint, the training worker, signals, a full disk and the stop.
Its driver says which session "today" is, runs what is due, says how long the loop may
sleep, and what happens at start, after a full disk and when the data runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Literal, Protocol

import sqlite_utils

from assistant.config import Settings
from assistant.daemon import jobs
from assistant.daemon.worker import TrainingWorker
from store.daemon_state import DaemonRow, State

Mode = Literal["live", "replay"]


class Host(Protocol):
    """What a driver uses of the loop that runs it."""

    ctx: jobs.Context
    settings: Settings
    worker: TrainingWorker
    stop: threading.Event
    clock: Callable[[], float]
    now: Callable[[], datetime]
    state: State

    @property
    def db(self) -> sqlite_utils.Database: ...

    def set_state(self, state: State, sim_date: date | None = None) -> None: ...


class Driver(Protocol):
    mode: Mode

    def start(self, previous: DaemonRow | None) -> None:
        """Begin, once the loop has recovered and recorded its start (`previous`: the
        daemon row the last run left): set the state, catch up or prepare."""

    def run_due(self) -> bool:
        """Run what is due now; True when more is due at once (the loop skips its sleep)."""

    def idle_for(self, t: float) -> float:
        """How long the loop may sleep from monotonic time `t` before something is due."""

    def as_of(self) -> date | None:
        """The session commands act on (None: the latest)."""

    def session_now(self) -> date | None:
        """The session a model registered now is known on (None: not started)."""

    def holds_commands(self) -> bool:
        """Whether queued commands must wait (they stay queued rather than fail)."""

    def reload(self, settings: Settings) -> None:
        """Use new settings from now on; raises (changing nothing) if they do not work."""

    def room_again(self) -> None:
        """The disk took a write again after being full."""

    def stopping(self) -> None:
        """The loop stops: record what is left unfinished."""
