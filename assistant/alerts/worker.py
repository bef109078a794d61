"""The daemon's alert sender: a thread that scans for events and drains the outbox.

It has its own database connection and never blocks the loop: a slow, hanging or
refusing endpoint costs this thread its send timeout, nothing else. Each pass scans for
new events (when another connection wrote since the last scan), drops alerts older than
`max_age_minutes`, then sends what is due, at most `per_minute` a minute. A failed send is logged and tried again after 2, 4, 8 ...
seconds (`retries` times), then marked failed with its error (`assistant alerts list`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from assistant.alerts import events
from assistant.alerts.send import send
from assistant.config import Settings
from store import alerts as outbox
from store.db import data_version, open_db

log = logging.getLogger("assistant.alerts")

FIRST_RETRY_S = 2.0
FLUSH_AT_STOP_S = 3.0  # at most this long to send the stop message (the daemon exits in 10 s)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


class AlertSender:
    """`start()`, then `close()` at daemon stop (enqueues the stop event, sends it briefly)."""

    def __init__(self, home: Path, settings: Settings, *, poll_s: float = 1.0):
        self.home, self.settings, self.poll_s = Path(home), settings, poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seen_version: int | None = None  # the scan runs only after another write
        self._sent: deque[float] = deque()  # monotonic times of recent sends (rate limit)
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)

    def start(self) -> AlertSender:
        self._thread.start()
        return self

    def close(self, started_at: str | None, *, notify: bool = True) -> None:
        cfg = self.settings.alerts
        if cfg.urls and cfg.daemon and notify:
            try:
                db = open_db(self.home)
                try:
                    events.daemon_stopping(db, started_at)
                finally:
                    db.close()
            except Exception as exc:
                log.error("alerts: the stop message is not queued: %s", exc)
        self._stop.set()
        self._wake.set()
        self._thread.join(min(cfg.timeout_seconds, FLUSH_AT_STOP_S) + 1.0)

    def _run(self) -> None:
        db, last_error = None, ""
        while True:
            stopping = self._stop.is_set()
            try:
                if self.settings.alerts.urls:  # no URLs (the default): nothing to do
                    db = db or open_db(self.home, create=False)
                    self._pass(db, stopping)
            except Exception as exc:  # the sender logs and goes on; the daemon never sees it
                if str(exc) != last_error:  # once, not every pass while it lasts
                    log.error("alerts: %s", exc)
                last_error = str(exc)
            else:
                last_error = ""
            if stopping:
                break
            self._wake.wait(self.poll_s)
        if db is not None:
            db.close()

    def _pass(self, db: sqlite_utils.Database, stopping: bool) -> None:
        cfg = self.settings.alerts
        version = data_version(db)
        if not stopping and version != self._seen_version:  # another connection wrote
            n = events.scan(db, cfg)
            self._seen_version = version
            if n:
                log.info("alerts: %d new event(s) queued", n)
        now = datetime.now(UTC)
        dropped = outbox.expire(db, _iso(now - timedelta(minutes=cfg.max_age_minutes)))
        if dropped:
            log.warning(
                "alerts: %d alert(s) older than %d min dropped unsent", dropped, cfg.max_age_minutes
            )
        deadline = time.monotonic() + FLUSH_AT_STOP_S
        for alert in outbox.due(db, _iso(now), limit=1000 if stopping else cfg.per_minute):
            if stopping and (alert["event"] != "daemon" or time.monotonic() > deadline):
                continue
            if not self._may_send(cfg.per_minute):
                break
            self._deliver(db, alert)

    def _may_send(self, per_minute: int) -> bool:
        t = time.monotonic()
        while self._sent and t - self._sent[0] >= 60.0:
            self._sent.popleft()
        return len(self._sent) < per_minute

    def _deliver(self, db: sqlite_utils.Database, alert: outbox.Alert) -> None:
        cfg = self.settings.alerts
        self._sent.append(time.monotonic())
        error = send(cfg.urls, alert["title"], alert["body"], cfg.timeout_seconds)
        if error is None:
            outbox.sent(db, alert["id"])
            log.info("alert sent: %s", alert["title"])
            return
        tries = alert["tries"] + 1
        if tries > cfg.retries:
            outbox.retry(db, alert["id"], error, None)
            log.error("alert failed after %d tries, given up: %s: %s", tries, alert["title"], error)
            return
        wait = FIRST_RETRY_S * 2 ** (tries - 1)
        at = _iso(datetime.now(UTC) + timedelta(seconds=wait))
        outbox.retry(db, alert["id"], error, at)
        log.warning(
            "alert not sent (try %d, again in %.0f s): %s: %s", tries, wait, alert["title"], error
        )
