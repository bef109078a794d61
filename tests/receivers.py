"""Slow HTTP receivers on 127.0.0.1 for the alert sender's tests and its soak bench.

`SlowReceiver` is one thread serving every connection through a selector: it reads each
request whole, records it (headers and JSON body), then, by `mode`:
- "trickle": answers `HTTP/1.1 200 OK` and then one header line every `gap` seconds,
  never ending the answer (so no per-read timeout ever trips);
- "late": trickles the same way, then completes the 200 answer after `answer_after`
  seconds (an answer that arrives after the sender's deadline);
- "hang": reads the request and sends nothing.
`open` counts the connections it holds: one the client closed is closed here too.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Conn:
    sock: socket.socket
    opened: float
    buf: bytes = b""
    answering_at: float | None = None  # when the request was read whole
    next_line: float = 0.0
    lines: int = 0
    done: bool = False


@dataclass
class SlowReceiver:
    mode: str = "trickle"
    gap: float = 0.1
    answer_after: float = 1.0
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._srv = socket.socket()
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(512)
        self._srv.setblocking(False)
        self._sel.register(self._srv, selectors.EVENT_READ)
        self._conns: dict[int, _Conn] = {}
        self._stop = threading.Event()
        self.port = self._srv.getsockname()[1]
        self.url = f"json://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._serve, name="slow-receiver", daemon=True)
        self._thread.start()

    @property
    def open(self) -> int:
        return len(self._conns)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in list(self._conns.values()):
            c.sock.close()
        self._srv.close()
        self._sel.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(0.02):
                if key.fileobj is self._srv:
                    try:
                        sock, _ = self._srv.accept()
                    except OSError:
                        continue
                    sock.setblocking(False)
                    self._conns[sock.fileno()] = _Conn(sock, time.monotonic())
                    self._sel.register(sock, selectors.EVENT_READ)
                else:
                    self._readable(self._conns[key.fd])
            now = time.monotonic()
            for c in list(self._conns.values()):
                if c.answering_at is not None and not c.done and now >= c.next_line:
                    self._answer(c, now)

    def _drop(self, c: _Conn) -> None:
        self._conns.pop(c.sock.fileno(), None)
        self._sel.unregister(c.sock)
        c.sock.close()

    def _readable(self, c: _Conn) -> None:
        try:
            chunk = c.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:  # the client went away
            self._drop(c)
            return
        if c.answering_at is not None:
            return
        c.buf += chunk
        head, sep, body = c.buf.partition(b"\r\n\r\n")
        if not sep:
            return
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(body) < int(headers.get("content-length", 0)):
            return
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {}
        self.requests.append({"headers": headers, "json": payload})
        c.answering_at = c.next_line = time.monotonic()

    def _answer(self, c: _Conn, now: float) -> None:
        if self.mode == "hang":
            c.done = True
            return
        if c.lines == 0:
            out = b"HTTP/1.1 200 OK\r\n"
        elif self.mode == "late" and now - (c.answering_at or now) >= self.answer_after:
            out, c.done = b"Content-Length: 0\r\n\r\n", True
        else:
            out = f"X-Trickle-{c.lines}: x\r\n".encode()
        c.lines += 1
        c.next_line = now + self.gap
        try:
            c.sock.send(out)
        except OSError:
            self._drop(c)
