"""One message to every configured URL through apprise, within a time limit.

apprise's notify is synchronous and an endpoint may hang: it runs on a helper thread
that is waited for at most `timeout` seconds (its socket timeouts are set to the same,
so an abandoned helper ends soon after). A failure is returned as text, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence


def describe(url: str) -> str:
    """A URL as it may be shown or logged: its scheme only (the rest may hold a secret)."""
    return url.split("://")[0] + "://..."


def send(urls: Sequence[str], title: str, body: str, timeout: float) -> str | None:
    """Deliver one message; None when every URL took it, else what went wrong."""
    if not urls:
        return "no [alerts] urls are configured"
    outcome: list[str | None] = []

    def deliver() -> None:
        try:
            outcome.append(_notify(urls, title, body, timeout))
        except Exception as exc:  # a broken plugin must not end the sender
            outcome.append(f"{type(exc).__name__}: {exc}")

    helper = threading.Thread(target=deliver, name="alert-send", daemon=True)
    helper.start()
    helper.join(timeout)
    if not outcome:
        return f"no answer within {timeout:g} s"
    return outcome[0]


def _notify(urls: Sequence[str], title: str, body: str, timeout: float) -> str | None:
    import apprise

    failed = []
    for url in urls:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            failed.append(f"{describe(url)} is not a URL apprise can send to")
            continue
        # apprise's own socket timeouts (connect, read), so a hang ends on its own too
        plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
            ok = plugin.notify(body=body, title=title)
        if not ok:
            lines = [line.strip() for line in said.getvalue().splitlines() if line.strip()]
            why = lines[-1][:200] if lines else "refused the message"
            failed.append(f"{describe(url)}: {why}")
    return "; ".join(failed) or None
