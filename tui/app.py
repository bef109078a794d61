"""The Textual app: polls the store for changes, loads snapshots in workers, queues commands.

Never blocks the UI thread on the database: every read runs in a thread worker with its
own short-lived connection (one short read transaction), and results come back as
messages. A persistent connection only asks `PRAGMA data_version` every half second, which
changes exactly when another connection (the daemon, the CLI, our own queue writes)
commits; only then is the store read again.

`data_version` only sees commits to the file that connection opened. A restore puts
another file at the home's path (the old one moved aside), so each poll also compares
the path's device and inode with the watched file's; on a change the app says so,
watches the new file and reloads everything from it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from store import commands
from store.db import DB_FILENAME, cannot_write, cannot_write_error, connect, data_version
from store.views.dashboard import Dashboard, dashboard
from store.views.symbol import symbol_detail
from tui.home import command
from tui.keys import app_keys
from tui.messages import (
    CommandQueued,
    CommandRejected,
    DashboardLoaded,
    DetailLoaded,
    DetailWanted,
    EnqueueCommand,
    OpenSymbol,
)
from tui.screens.dashboard import DashboardScreen
from tui.screens.modals import HelpScreen
from tui.screens.symbol import SymbolScreen
from tui.widgets.commands import describe
from vocab.commands import Command

if TYPE_CHECKING:
    from sqlite_utils import Database
    from textual.screen import Screen


P = ParamSpec("P")
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TradingApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "trading-assistant"
    BINDINGS = [Binding(k, a, label) for k, a, label, _ in app_keys()]

    def __init__(
        self,
        home: Path,
        *,
        clock: Callable[[], datetime] = _utcnow,
        heartbeat_seconds: float = 5.0,
        poll_seconds: float = 0.5,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.home = Path(home)
        self.demo = demo  # opened by `assistant demo`: quitting also stops its daemon
        self.db_path = self.home / DB_FILENAME
        self.clock = clock
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.dashboard: DashboardScreen | None = None
        self.loads = 0  # dashboard snapshots applied (tests and the benchmark wait on it)
        self.last_data: Dashboard | None = None
        self._watch: Database | None = None  # the connection polled for commits
        self._version: int | None = None
        self._file_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the watched file
        self._started = 0  # dashboard loads started, in order (the UI thread counts them)
        self._shown = 0  # the latest load whose data is on screen
        self._again = False  # the store changed while a load was in flight

    def on_load(self) -> None:
        # Start the first read now, so it overlaps Textual's own start-up and compose.
        self._open_watch()
        self.reload_dashboard()

    def _open_watch(self) -> None:
        self._watch = watch = connect(self.db_path)
        self._version = data_version(watch)
        self._file_id = self._path_id()

    def _path_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def on_mount(self) -> None:
        self.dashboard = DashboardScreen(
            clock=self.clock,
            heartbeat_seconds=self.heartbeat_seconds,
            report=command(self.home, "report"),
        )
        self.push_screen(self.dashboard)
        if self.last_data:
            self.dashboard.data = self.last_data
        self.set_interval(self.poll_seconds, self.poll)

    def on_unmount(self) -> None:
        if self._watch is not None:
            self._watch.close()

    def poll(self) -> None:
        """Cheap change detection: re-read only when someone committed."""
        assert self._watch is not None  # opened by on_load, before any timer runs
        now = self._path_id()
        if now != self._file_id and now is not None:  # (gone: a restore half done, wait)
            self._watch.close()
            self._open_watch()
            self.notify(
                f"{self.db_path} was replaced (a restore?): showing the file now there",
                severity="warning",
            )
            self.reload()
            return
        version = data_version(self._watch)
        if version != self._version:
            self._version = version
            self.reload()

    def reload(self) -> None:
        self.reload_dashboard()
        top = self._top()
        if isinstance(top, SymbolScreen):
            self.load_detail(top.symbol)

    def _top(self) -> Screen[object] | None:
        """The active screen, or None while the app is starting or shutting down."""
        return self.screen_stack[-1] if self.screen_stack else None

    def _read(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        db = connect(self.db_path)
        try:
            return fn(db, *args, **kwargs)
        finally:
            db.close()

    def reload_dashboard(self) -> None:
        """One dashboard read in flight at a time; a change meanwhile starts one more after it.

        So the screen follows the store within one read of its last change, however often
        the daemon commits, and reads never pile up on a busy machine.
        """
        if self._started > self._shown:
            self._again = True
            return
        self._started += 1
        self.load_dashboard(self._started)

    @work(thread=True, group="dashboard", exit_on_error=False)
    def load_dashboard(self, seq: int) -> None:
        # Not exclusive: cancelling a thread worker does not stop its read, and a slow
        # older read could land after a newer one. Each load is numbered instead.
        data = self._read(dashboard, now=self.clock(), heartbeat_seconds=self.heartbeat_seconds)
        self.post_message(DashboardLoaded(data, seq))

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load_detail(self, symbol: str) -> None:
        self.post_message(DetailLoaded(self._read(symbol_detail, symbol, now=self.clock())))

    @work(thread=True, group="commands", exit_on_error=False)
    def enqueue(self, command: Command) -> None:
        """Write one command row (a short BEGIN IMMEDIATE insert, off the UI thread)."""
        db = connect(self.db_path)
        try:
            command_id = commands.enqueue(db, command)
        except commands.CommandError as exc:
            self.post_message(CommandRejected(command.KIND, str(exc)))
            return
        except (
            sqlite3.OperationalError
        ) as exc:  # the write lock held by another process, a full disk
            if not cannot_write(exc, self.db_path):
                raise
            self.post_message(
                CommandRejected(command.KIND, str(cannot_write_error(self.db_path, exc)))
            )
            return
        finally:
            db.close()
        self.post_message(CommandQueued(command_id, command))

    def on_dashboard_loaded(self, message: DashboardLoaded) -> None:
        if message.seq < self._shown:
            return  # an older read that finished late: newer data is already on screen
        self._shown = message.seq
        if self._again:
            self._again = False
            self.reload_dashboard()
        self.last_data = message.data
        if self.dashboard is not None:
            self.dashboard.data = message.data
        self.loads += 1

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        screen = self._top()
        if isinstance(screen, SymbolScreen) and screen.symbol == message.data["symbol"]:
            screen.detail = message.data

    def on_command_queued(self, message: CommandQueued) -> None:
        text = f"{describe(message.command.KIND, message.command)}: queued (#{message.command_id})"
        if not (self.last_data and self.last_data["daemon"]["online"]):
            text += "; the daemon is offline, so it waits in the queue"
        self.notify(text, title="command")
        self.poll()

    def on_command_rejected(self, message: CommandRejected) -> None:
        self.notify(f"{message.kind} not queued: {message.error}", severity="error", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker errors surface: a notification, the app keeps running."""
        if event.state == WorkerState.ERROR:
            if event.worker.group == "dashboard":  # let the next change start a read
                self._shown = self._started
                if self.dashboard is not None and self.dashboard.is_mounted:
                    self.dashboard.reveal()  # the screen as it is, under the error
            error = event.worker.error
            self.notify(
                f"{event.worker.name}: {type(error).__name__}: {error}",
                severity="error",
                title="read failed",
                timeout=10,
            )

    def open_symbol(self, symbol: str) -> None:
        self.push_screen(SymbolScreen(symbol))

    # Screens ask by message ("attributes down, messages up").

    def on_enqueue_command(self, message: EnqueueCommand) -> None:
        self.enqueue(message.command)

    def on_open_symbol(self, message: OpenSymbol) -> None:
        self.open_symbol(message.symbol)

    def on_detail_wanted(self, message: DetailWanted) -> None:
        self.load_detail(message.symbol)

    def action_help(self) -> None:
        if not isinstance(self._top(), HelpScreen):
            self.push_screen(HelpScreen(demo=self.demo))


def make_app(
    home: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    heartbeat_seconds: float = 5.0,
    poll_seconds: float = 0.5,
    demo: bool = False,
) -> TradingApp:
    """The one way to build the app, for the CLI (`python -m tui`) and for tests."""
    return TradingApp(
        home,
        clock=clock or _utcnow,
        heartbeat_seconds=heartbeat_seconds,
        poll_seconds=poll_seconds,
        demo=demo,
    )
