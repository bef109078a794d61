"""The daemon's alert sender: a thread that scans for events and drains the outbox.

It has its own database connection and never blocks the loop: a slow, hanging,
trickling or refusing endpoint costs this thread its send deadline, nothing else (the
sends themselves run in one courier process, see `send`). Each pass scans for new events
(when another connection wrote since the last scan), drops alerts older than
`max_age_minutes`, then sends what is due, at most `per_minute` a minute. A failed send
(nothing went out, or the endpoint refused) is logged and tried again after 2, 4, 8 ...
seconds (`retries` times), then marked failed with its error (`assistant alerts list`).
A send that went out without an answer in time is recorded `unconfirmed` and not sent
again; so is one in flight when the daemon died (found `sending` at the next start). Each
try of an alert carries the same idempotency key (`idempotency_key`).
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
from assistant.alerts.send import (
    FAILED,
    SENT,
    UNCONFIRMED,
    Courier,
    Outcome,
    clamp_timeout,
    send,
)
from assistant.config import Settings
from store import alerts as outbox
from store.db import data_version, open_db

log = logging.getLogger("assistant.alerts")

FIRST_RETRY_S = 2.0
FLUSH_AT_STOP_S = 3.0  # at most this long to send the stop message (the daemon exits in 10 s)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def idempotency_key(alert: outbox.Alert) -> str:
    """The same for every try of one alert, different for every alert ever queued."""
    return f"trading-assistant:{alert['key']}:{alert['created_at']}"


class AlertSender:
    """`start()`, then `close()` at daemon stop (enqueues the stop event, sends it briefly)."""

    def __init__(
        self,
        home: Path,
        settings: Settings,
        *,
        poll_s: float = 1.0,
        expect: tuple[int, int] | None = None,
    ):
        """`expect`: the `file_id` of the database file the daemon opened; the sender
        opens that file only (see store.db.connect)."""
        self.home, self.settings, self.poll_s = Path(home), settings, poll_s
        self.expect = expect
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seen_version: int | None = None  # the scan runs only after another write
        self._sent: deque[float] = deque()  # monotonic times of recent sends (rate limit)
        self._courier = Courier()
        self.passes = 0  # passes done (tests wait on it instead of sleeping)
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)

    def start(self) -> AlertSender:
        self._thread.start()
        return self

    def close(self, started_at: str | None, *, notify: bool = True) -> None:
        cfg = self.settings.alerts
        if cfg.urls and cfg.daemon and notify:
            try:
                db = open_db(self.home, create=False, expect=self.expect)
                try:
                    events.daemon_stopping(db, started_at)
                finally:
                    db.close()
            except Exception as exc:
                log.error("alerts: the stop message is not queued: %s", exc)
        self._stop.set()
        self._wake.set()
        self._thread.join(FLUSH_AT_STOP_S + 1.0)
        self._courier.close()  # a send still in progress ends now (unconfirmed or retried)
        self._thread.join(1.0)

    def _run(self) -> None:
        db, last_error, started = None, "", False
        while True:
            stopping = self._stop.is_set()
            try:
                if self.settings.alerts.urls:  # no URLs (the default): nothing to do
                    db = db or open_db(self.home, create=False, expect=self.expect)
                    if not started:
                        lost = outbox.interrupted(db)
                        if lost:
                            log.warning("alerts: %d alert(s) %s", lost, outbox.INTERRUPTED)
                        started = True
                    self._pass(db, stopping)
            except Exception as exc:  # the sender logs and goes on; the daemon never sees it
                if str(exc) != last_error:  # once, not every pass while it lasts
                    log.error("alerts: %s", exc)
                last_error = str(exc)
            else:
                last_error = ""
            self.passes += 1
            if stopping:
                break
            self._wake.wait(self.poll_s)
        self._courier.close()
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
            self._deliver(db, alert, stopping)

    def _may_send(self, per_minute: int) -> bool:
        t = time.monotonic()
        while self._sent and t - self._sent[0] >= 60.0:
            self._sent.popleft()
        return len(self._sent) < per_minute

    def _deliver(self, db: sqlite_utils.Database, alert: outbox.Alert, stopping: bool) -> None:
        cfg = self.settings.alerts
        self._sent.append(time.monotonic())
        timeout = clamp_timeout(cfg.timeout_seconds)
        if stopping:  # the daemon exits soon: the stop message gets a short try
            timeout = min(timeout, FLUSH_AT_STOP_S)
        outbox.begin(db, alert["id"])
        try:
            outcome = send(
                cfg.urls,
                alert["title"],
                alert["body"],
                timeout,
                key=idempotency_key(alert),
                courier=self._courier,
            )
        except Exception as exc:  # never leave the row `sending` while this daemon runs
            outcome = Outcome(FAILED, f"{type(exc).__name__}: {exc}")
        if outcome.status == SENT:
            outbox.sent(db, alert["id"])
            log.info("alert sent: %s", alert["title"])
            return
        error = outcome.error or "not delivered"
        if outcome.status == UNCONFIRMED:
            outbox.unconfirmed(db, alert["id"], error)
            log.warning("alert sent, unconfirmed (not sent again): %s: %s", alert["title"], error)
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
