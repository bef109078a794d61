"""One message to every configured URL through apprise, each within a wall-clock deadline.

apprise's notify is synchronous and its socket timeouts are per read: an endpoint that
trickles a byte now and then never trips them. So it runs in a `Courier`, one child
process (`assistant.alerts.courier`) that sends one URL at a time under a deadline for the
whole exchange; the parent waits on a pipe, with no thread of its own, and kills the
child should it overrun the deadline (the next send starts a fresh one). However many
sends hang or trickle, the caller keeps one child and two pipe ends.

A send ends `sent` (every URL answered that it took the message), `unconfirmed` (the
request went out but no answer came in time: it may well have arrived, and sending it
again could deliver a second copy) or `failed` (nothing went out, or the endpoint
refused: trying again is safe). An idempotency key, stable across the tries of one
alert, goes out as an `Idempotency-Key` header where the scheme has headers (json://,
xml://, form://, ...), so a receiver can drop a copy it already has. A failure is
returned, never raised.
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SENT, UNCONFIRMED, FAILED = "sent", "unconfirmed", "failed"
MIN_TIMEOUT_S = 0.1
MAX_TIMEOUT_S = 60.0  # whatever the setting: one URL's exchange never takes longer
GRACE_S = 2.0  # the courier's own deadline fires first; the parent kills it this much later
START_S = 60.0  # the courier imports apprise before it is ready (slow on a loaded machine)
COURIER_FDS = 48  # a courier holding more open files than this is replaced (a leaking plugin)


def describe(url: str) -> str:
    """A URL as it may be shown or logged: its scheme only (the rest may hold a secret)."""
    return url.split("://")[0] + "://..."


def clamp_timeout(value: float) -> float:
    """A usable deadline from any setting: NaN, infinite, negative or huge ones included."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        return MAX_TIMEOUT_S
    if math.isnan(t):
        return MAX_TIMEOUT_S
    return min(max(t, MIN_TIMEOUT_S), MAX_TIMEOUT_S)


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | unconfirmed | failed
    error: str | None = None  # what went wrong, one line per URL; None when sent


class Courier:
    """The pool of one child process that sends; `close()` ends it (from any thread)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = b""
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0  # couriers killed for overrunning (or leaking): for the bench

    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def deliver(
        self, url: str, title: str, body: str, timeout: float, key: str | None = None
    ) -> tuple[str, str | None]:
        """(status, error) for one URL, within `timeout` (clamped) plus the grace."""
        timeout = clamp_timeout(timeout)
        with self._lock:
            try:
                self._start()
            except OSError as exc:
                return FAILED, f"{describe(url)}: the alert courier did not start: {exc}"
            proc = self._proc
            assert proc is not None and proc.stdin is not None
            req = {"url": url, "title": title, "body": body, "timeout": timeout, "key": key}
            try:
                proc.stdin.write((json.dumps(req) + "\n").encode())
                proc.stdin.flush()
            except OSError as exc:
                self._discard()
                return FAILED, f"{describe(url)}: the alert courier ended: {exc}"
            sent, end = False, time.monotonic() + timeout + GRACE_S
            while True:
                msg = self._read(end)
                if msg is None:  # overran its own deadline, or died: it goes
                    self._discard()
                    self.restarts += 1
                    break
                if msg.get("sent"):
                    sent = True
                if msg.get("done"):
                    sent = bool(msg.get("sent")) or sent
                    if int(msg.get("fds", 0)) > COURIER_FDS:
                        self._discard()
                        self.restarts += 1
                    if not msg.get("late"):
                        error = msg.get("error")
                        return (FAILED, str(error)) if error else (SENT, None)
                    break
            if sent:
                return UNCONFIRMED, (
                    f"{describe(url)}: sent, no answer within {timeout:g} s (it may have arrived)"
                )
            return FAILED, f"{describe(url)}: no answer within {timeout:g} s (nothing was sent)"

    def close(self) -> None:
        """End the courier; a send in progress ends at once (its request unconfirmed)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        if self._lock.acquire(timeout=GRACE_S + 3.0):
            try:
                self._discard()
            finally:
                self._lock.release()

    def _start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._discard()
        if self._closed:
            raise OSError("the sender is closed")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.alerts.courier"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        msg = self._read(time.monotonic() + START_S)
        if not msg or not msg.get("ready"):
            self._discard()
            raise OSError("no ready signal")

    def _read(self, end: float) -> dict[str, Any] | None:
        """The courier's next message, or None (its deadline passed, or it ended)."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None

    def _discard(self) -> None:
        proc, self._proc, self._buf = self._proc, None, b""
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        proc.wait()


def send(
    urls: Sequence[str],
    title: str,
    body: str,
    timeout: float,
    *,
    key: str | None = None,
    courier: Courier | None = None,
) -> Outcome:
    """Deliver one message to every URL (each within `timeout`); `courier` None: a
    courier for this call alone."""
    if not urls:
        return Outcome(FAILED, "no [alerts] urls are configured")
    own = courier is None
    c = courier or Courier()
    try:
        results = [c.deliver(url, title, body, timeout, key) for url in urls]
    finally:
        if own:
            c.close()
    errors = "; ".join(e for _, e in results if e)
    statuses = {s for s, _ in results}
    if FAILED in statuses:  # a retry is due (an unconfirmed URL among them gets it again)
        return Outcome(FAILED, errors)
    if UNCONFIRMED in statuses:
        return Outcome(UNCONFIRMED, errors)
    return Outcome(SENT)
