"""The status header: daemon state, the offline banner, and the running job's progress.

The app hands it the latest daemon row and jobs (attributes down); it re-checks the
heartbeat age against the app's clock every second, so "daemon offline" appears even
when nothing in the database changes (that is exactly when a daemon has died).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar, Static

from store.views import classify_daemon, human_age


def _age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{human_age(seconds)} ago"


class StatusHeader(Vertical):
    """Daemon line, offline banner, job line."""

    daemon_row: reactive[dict[str, Any] | None] = reactive(None, always_update=True)
    jobs: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)
    queued: reactive[int] = reactive(0)

    def compose(self) -> ComposeResult:
        yield Static(id="daemon-line")
        yield Static(id="offline-banner")
        with Horizontal(id="job-line"):
            yield Label(id="job-label")
            yield ProgressBar(total=1.0, show_eta=False, id="job-progress")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.render_state)
        self.render_state()

    def watch_daemon_row(self) -> None:
        self.render_state()

    def watch_queued(self) -> None:
        self.render_state()

    def watch_jobs(self, jobs: list[dict[str, Any]]) -> None:
        if not self.is_mounted:
            return
        line = self.query_one("#job-line")
        line.display = bool(jobs)
        if jobs:
            job = jobs[-1]
            more = f" (+{len(jobs) - 1} more)" if len(jobs) > 1 else ""
            self.query_one("#job-label", Label).update(
                f"running: {job['job']}{more}  {job.get('message') or ''}"
            )
            self.query_one("#job-progress", ProgressBar).update(progress=float(job.get("progress") or 0.0))

    def render_state(self) -> None:
        if not self.is_mounted:
            return
        info = classify_daemon(self.daemon_row, self.app.clock(), self.app.heartbeat_seconds)
        line = Text()
        line.append("trading-assistant  ", style="bold")
        if info["online"]:
            line.append("● daemon online", style="bold green")
            line.append(f"  mode {info['mode']}")
            if info["mode"] == "replay" and info["sim_date"]:
                line.append(f"  simulated date {info['sim_date']}", style="bold")
            line.append(f"  heartbeat {_age(info['heartbeat_age_s'])}  pid {info['pid']}")
        else:
            line.append("○ daemon offline", style="bold red")
            if info["mode"]:
                line.append(f"  last mode {info['mode']}  heartbeat {_age(info['heartbeat_age_s'])}")
        if self.queued:
            line.append(f"  · {self.queued} command(s) queued")
        self.query_one("#daemon-line", Static).update(line)
        banner = self.query_one("#offline-banner", Static)
        banner.display = not info["online"]
        if not info["online"]:
            banner.update(
                f"DAEMON OFFLINE ({info['reason']}): commands wait in the queue until it runs. "
                "Start it with `assistant start` (or `assistant demo` for the replay demo)."
            )
