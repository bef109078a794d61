"""Heartbeats while the loop is inside one long step.

The loop beats between steps. A single slow step (a live collection waiting on a slow
network) would otherwise leave the heartbeat stale and the dashboard would call a busy
daemon offline. While the loop is busy, a side thread with its own connection beats for
it — but only for `max_busy_s`: a step stuck longer than that stops the beats, so a real
hang still shows as "offline".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from store import daemon_state
from store.db import DB_FILENAME, StoreError, connect

log = logging.getLogger("assistant.daemon")


class BusyBeat:
    def __init__(
        self,
        home: Path,
        interval_s: float,
        *,
        max_busy_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        expect: tuple[int, int] | None = None,
    ) -> None:
        """`expect`: the `file_id` of the database file the daemon opened; the beats
        connect to that file only (see store.db.connect)."""
        self.expect = expect
        self.home, self.interval_s, self.max_busy_s, self.clock = (
            Path(home),
            interval_s,
            max_busy_s,
            clock,
        )
        self._since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="busy-heartbeat", daemon=True)

    def start(self) -> BusyBeat:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> BusyBeat:
        self._since = self.clock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._since = None

    def _run(self) -> None:
        try:  # never a new, empty file where a restore moved the database away
            db = connect(self.home / DB_FILENAME, create=False, expect=self.expect)
        except StoreError as exc:
            log.debug("busy heartbeat not started: %s", exc)
            return
        try:
            while not self._stop.wait(self.interval_s):
                since = self._since
                if since is not None and self.clock() - since < self.max_busy_s:
                    try:
                        daemon_state.heartbeat(db)
                    except Exception as exc:  # a missed beat is harmless; never kill the thread
                        log.debug("busy heartbeat skipped: %s", exc)
        finally:
            db.close()
