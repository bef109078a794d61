"""The courier process: delivers one message to one apprise URL per request, in time.

`assistant.alerts.send` runs this module as a child process (`python -m
assistant.alerts.courier`) and talks to it in JSON lines: it answers `{"ready": true}`
once apprise is imported, then for each request `{"url", "title", "body", "timeout",
"key"}` a `{"sent": true}` line as soon as the request's first byte is written to a
socket, and a `{"done": true, ...}` line with the result.

The whole exchange has a wall-clock deadline (SIGALRM after `timeout` seconds
interrupts whatever socket call is blocked, however the endpoint trickles its bytes);
apprise's own timeouts are per read only. A request whose bytes went out but whose
answer did not arrive by then is "unconfirmed", never "not delivered": the receiver may
well have it. The process ends at end of input (its parent closed the pipe or died) and,
should it overrun a deadline anyway, the parent kills it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from typing import ParamSpec, TextIO, TypeVar

from assistant.alerts.send import describe


class Deadline(BaseException):
    """The exchange's deadline passed (a BaseException: no plugin's `except Exception` eats it)."""


_P = ParamSpec("_P")
_R = TypeVar("_R")

_out: TextIO = sys.stdout
_sent = False


def _say(**msg: object) -> None:
    _out.write(json.dumps(msg) + "\n")
    _out.flush()


def _on_write(real: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap a socket write method: its first call means the request left this process."""

    def write(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        global _sent
        if not _sent:
            _sent = True
            _say(sent=True)
        return real(*args, **kwargs)

    return write


def _hook_writes() -> None:
    # Only in this process, which does nothing but send alerts.
    for cls in (socket.socket, ssl.SSLSocket):
        for name in ("send", "sendall", "sendmsg"):
            real = getattr(cls, name, None)
            if real is not None:
                setattr(cls, name, _on_write(real))


def _deadline(signum: int, frame: object) -> None:
    raise Deadline


def deliver(url: str, title: str, body: str, timeout: float, key: str | None) -> str | None:
    """One URL; None when it took the message, else why not (Deadline propagates)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return f"{describe(url)} is not a URL apprise can send to"
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    headers = getattr(plugin, "headers", None)
    if key and isinstance(headers, dict):  # json://, xml://, form:// and other HTTP schemes
        headers["Idempotency-Key"] = key
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
        ok = plugin.notify(body=body, title=title)
    if ok:
        return None
    lines = [line.strip() for line in said.getvalue().splitlines() if line.strip()]
    return f"{describe(url)}: {lines[-1][:200] if lines else 'refused the message'}"


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def main() -> int:
    global _out, _sent
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # The protocol owns the real stdout; stray prints go nowhere.
    _out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    # Imported before "ready", not inside the first send's deadline: apprise, its plugins
    # (loaded on first use) and requests.
    import apprise
    import requests  # noqa: F401

    apprise.Apprise.instantiate("json://127.0.0.1/")

    _hook_writes()
    signal.signal(signal.SIGALRM, _deadline)
    _say(ready=True)
    for line in sys.stdin:
        req = json.loads(line)
        timeout = float(req["timeout"])
        _sent, error, late, finished = False, None, False, False
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                error = deliver(req["url"], req["title"], req["body"], timeout, req.get("key"))
                finished = True
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Deadline:
            late = not finished  # an answer that came in time stands
        except Exception as exc:  # a broken plugin must not end the courier
            error = f"{describe(req['url'])}: {type(exc).__name__}: {exc}"[:300]
        if late:
            gc.collect()  # what the interrupted call left open is closed now, not later
        _say(done=True, error=error, late=late, sent=_sent, fds=open_fds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
