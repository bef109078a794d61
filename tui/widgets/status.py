"""The status header: daemon state, the offline banner, and the running job's progress.

The app hands it the latest daemon row and jobs (attributes down); it re-checks the
heartbeat age against the app's clock every second, so "daemon offline" appears even
when nothing in the database changes (that is exactly when a daemon has died).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.progress_bar import ProgressBar as Bar
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from store.daemon_state import State
from store.views.activity import RunningJob
from tui.widgets.fmt import set_static
from vocab.status import DaemonInfo, classify_daemon, human_age


def _age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{human_age(seconds)} ago"


def job_table(jobs: list[RunningJob], limit: int = 3) -> Table:
    """One line per running job (training, replay, collection...): name, bar, percent, message."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=9)
    grid.add_column(width=30)
    grid.add_column(width=4, justify="right")
    grid.add_column()
    for job in jobs[-limit:]:
        done = float(job["progress"] or 0.0)
        grid.add_row(
            Text(job["job"], style="bold cyan"),
            Bar(total=1.0, completed=done, width=30),
            f"{done * 100:.0f}%",
            job["message"] or "",
        )
    return grid


def finished_text(sim_date: str | None, report: str) -> str:
    """What a finished replay leaves to look at (the record stops growing here); short, so
    an 80-column terminal keeps the watchlist in view."""
    return (
        f"REPLAY FINISHED at {sim_date or 'the end of the data'}: the record below is complete "
        f"(Accuracy chart, In 80% column, enter on a symbol); p-values: `{report}`"
    )


class StatusHeader(Vertical):
    """Daemon line, offline banner, replay-finished banner, job line."""

    daemon_row: reactive[DaemonInfo | None] = reactive(None, always_update=True)
    jobs: reactive[list[RunningJob]] = reactive(list, always_update=True)
    queued: reactive[int] = reactive(0)
    alerts_failed: reactive[int] = reactive(0)  # alerts not delivered in the last day

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        heartbeat_seconds: float,
        report: str = "assistant report",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.clock, self.heartbeat_seconds = clock, heartbeat_seconds
        self.report = report  # the command line that reports on this home
        # the job lines on screen
        self._jobs_shown: list[tuple[str, float | None, str | None]] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="daemon-line")
        yield Static(id="offline-banner")
        yield Static(id="finished-banner")
        yield Static(id="jobs")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.render_state)
        self.render_state()

    def watch_daemon_row(self) -> None:
        self.render_state()

    def watch_queued(self) -> None:
        self.render_state()

    def watch_alerts_failed(self) -> None:
        self.render_state()

    def watch_jobs(self, jobs: list[RunningJob]) -> None:
        if not self.is_mounted:
            return
        widget = self.query_one("#jobs", Static)
        if widget.display != bool(jobs):
            widget.display = bool(jobs)
        shown = [(j["job"], j["progress"], j["message"]) for j in jobs[-3:]]
        if jobs and self._jobs_shown != shown:
            # Re-layout only when the number of lines changes.
            widget.update(job_table(jobs), layout=len(shown) != len(self._jobs_shown or []))
            self._jobs_shown = shown

    def render_state(self) -> None:
        if not self.is_mounted:
            return
        info = classify_daemon(self.daemon_row, self.clock(), self.heartbeat_seconds)
        line = Text()
        line.append("trading-assistant  ", style="bold")
        if info["online"]:
            line.append("● daemon online", style="bold green")
            line.append(f"  mode {info['mode']}")
            if info["state"] and info["state"] != State.RUNNING:
                line.append(f" ({info['state']})", style="bold yellow")
            if info["mode"] == "replay" and info["sim_date"]:
                line.append(f"  simulated date {info['sim_date']}", style="bold")
            line.append(f"  heartbeat {_age(info['heartbeat_age_s'])}  pid {info['pid']}")
        else:
            line.append("○ daemon offline", style="bold red")
            if info["mode"]:
                line.append(
                    f"  last mode {info['mode']}  heartbeat {_age(info['heartbeat_age_s'])}"
                )
        if self.queued:
            line.append(f"  · {self.queued} command(s) queued")
        if self.alerts_failed:
            line.append(
                f"  · {self.alerts_failed} alert(s) not delivered in 24 h (assistant alerts list)",
                style="bold red",
            )
        set_static(self.query_one("#daemon-line", Static), line)
        banner = self.query_one("#offline-banner", Static)
        if banner.display != (not info["online"]):
            banner.display = not info["online"]
        if not info["online"]:
            set_static(
                banner,
                f"DAEMON OFFLINE ({info['reason']}): commands wait in the queue until it runs. "
                "Start it with `assistant start` (or `assistant demo` for the replay demo).",
                layout=True,
            )
        finished = info["online"] and info["mode"] == "replay" and info["state"] == State.FINISHED
        done = self.query_one("#finished-banner", Static)
        if done.display != finished:
            done.display = finished
        if finished:
            set_static(done, finished_text(info["sim_date"], self.report), layout=True)
