"""Running the daemon as a service: start detached, stop, status, a systemd user unit.

`start` launches `python -m assistant --home H daemon ...` in its own session with its
stdout/stderr in `<home>/logs/daemon.stderr` (tracebacks from before logging is up; the
daemon's own log is the rotating `daemon.log`), and returns once the new process holds
the home's lock. `stop` sends SIGTERM and waits for the lock to be released. Who is
running comes from the lock (the kernel's truth), the rest from the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import sqlite_utils

from assistant.config import Settings
from assistant.daemon import lock, scheduler
from assistant.daemon.logs import LOG_NAME, log_dir
from assistant.errors import AssistantError
from store import commands, daemon_state, registry
from store import jobs as job_runs
from store.db import ensure_private_dir
from store.quotes import LiveQuote

UNIT_PREFIX = "trading-assistant"
JOBS = ("collect", "cycle", "paper", "verify", "drift", "retrain")
# shown with [cycle] hourly_horizons set (hourly_collect: with Yahoo's hours only)
HOURLY_JOBS = ("hourly_collect", "hourly_cycle", "hourly_verify")
SLOT_OF = {
    "hourly_collect": "hourly",
    "hourly_cycle": "hourly",
    "hourly_verify": "hourly",
    "collect": "daily",
    "cycle": "daily",
    "paper": "daily",
    "verify": "daily",
    "drift": "drift",
}


def daemon_command(home: Path, *args: str) -> list[str]:
    """The command line that runs this installation's daemon on `home`."""
    return [sys.executable, "-m", "assistant", "--home", str(home), "daemon", *args]


def start(home: Path, daemon_args: list[str], *, timeout_s: float = 20.0) -> int:
    """Start a detached daemon for `home`; its pid once it holds the lock."""
    holder = lock.holder(home)
    if holder is not None:
        raise lock.AlreadyRunning(home, holder)
    out_path = ensure_private_dir(log_dir(home)) / "daemon.stderr"
    cmd = daemon_command(home, *daemon_args, "--detached")
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = out_path.read_text(errors="replace").strip().splitlines()
            reason = tail[-1] if tail else f"exit code {proc.returncode}"
            raise AssistantError(f"the daemon exited at once: {reason.removeprefix('error: ')}")
        if lock.holder(home) == proc.pid:
            return proc.pid
        time.sleep(0.1)
    raise AssistantError(
        f"the daemon (pid {proc.pid}) did not start within {timeout_s:.0f} s; see {out_path}"
    )


def stop(home: Path, *, timeout_s: float = 15.0) -> int | None:
    """SIGTERM the home's daemon and wait until it is gone; its pid, or None if none ran."""
    pid = lock.holder(home)
    if pid is None:
        return None
    if pid == 0:
        raise AssistantError(f"a process holds {lock.lock_path(home)} but its pid is unknown")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if lock.holder(home) is None:
            return pid
        time.sleep(0.1)
    raise AssistantError(
        f"the daemon (pid {pid}) did not stop within {timeout_s:.0f} s; "
        f"`kill -9 {pid}` forces it (the next start recovers)"
    )


def _age(ts: str | None, now: datetime) -> float | None:
    if not ts:
        return None
    return round((now - datetime.fromisoformat(ts)).total_seconds(), 1)


class JobStatus(TypedDict):
    last_started: str | None
    last_status: str | None
    last_message: str | None
    progress: float | None
    next: str | None


class RunningJob(TypedDict):
    job: str
    progress: float | None
    message: str | None


class Quarantined(TypedDict):
    id: str
    kind: str
    reason: str | None
    serves: str | None


class RecentCommand(TypedDict):
    id: int
    kind: str
    status: str
    created_at: str
    error: str | None


class Queue(TypedDict):
    counts: dict[str, int]
    recent: list[RecentCommand]


class Status(TypedDict):
    """What `assistant status` shows (`--json` prints it as is)."""

    running: bool
    pid: int | None
    mode: str | None
    state: str | None
    started_at: str | None
    uptime_s: float | None
    heartbeat_at: str | None
    heartbeat_age_s: float | None
    sim_date: str | None
    log: str
    jobs: dict[str, JobStatus]
    running_jobs: list[RunningJob]
    quarantined: list[Quarantined]
    live: list[LiveQuote]  # the latest quotes read against the day's calls (store.quotes)
    queue: Queue


def live_quotes(db: sqlite_utils.Database, now: datetime, replaying: bool) -> list[LiveQuote]:
    """The watchlist's latest quotes, read at `now` (a replay: its own clock); a quote
    older than its symbol's newest bar is left out (as on the dashboard)."""
    from store import alerts as outbox
    from store import quotes

    active = [r[0] for r in db.execute("SELECT symbol FROM symbols WHERE active = 1")]
    # a replay's quotes are of its current session, whatever later bars the home holds
    last = {} if replaying else outbox.newest_bars(db)
    ref = quotes.reference_time(db, replaying, now)
    reads = quotes.read_all(db, ref, {s: last.get(s) for s in active})
    return [reads[s] for s in sorted(reads)]


def status(
    home: Path, settings: Settings, db: sqlite_utils.Database, now: datetime | None = None
) -> Status:
    """Everything `assistant status` shows, as plain data (the JSON output)."""
    now = now or datetime.now(UTC)
    pid = lock.holder(home)
    row = daemon_state.read(db)
    running = pid is not None
    mode = row["mode"] if row else None
    started_at = row["started_at"] if row else None
    heartbeat_at = row["heartbeat_at"] if row else None
    nexts = scheduler.next_runs(settings, now) if running and mode == "live" else {}
    last = job_runs.last_runs(db)
    jobs: dict[str, JobStatus] = {}
    live_hours = settings.collect.hourly and settings.collect.source == "yahoo"
    for job in JOBS + (HOURLY_JOBS if settings.cycle.hourly_horizons else ()):
        if job == "hourly_collect" and not live_hours:
            continue  # the slot collects no hours from this source
        run = last.get(job)
        if not running:
            nxt = None
        elif mode == "replay":
            nxt = "each session" if job in ("collect", "cycle", "paper", "verify") else "on cadence"
        elif job == "retrain":
            nxt = _next_retrain(settings, db, now)
        else:
            nxt = nexts.get(SLOT_OF[job])
        jobs[job] = {
            "last_started": None if run is None else run["started_at"],
            "last_status": None if run is None else run["status"],
            "last_message": None if run is None else run["message"],
            "progress": None if run is None else run["progress"],
            "next": nxt,
        }
    return {
        "running": running,
        "pid": (pid or (row["pid"] if row else None)) if running else None,
        "mode": mode,
        "state": (row["state"] if row else None) if running else daemon_state.State.STOPPED.value,
        "started_at": started_at,
        "uptime_s": _age(started_at, now) if running else None,
        "heartbeat_at": heartbeat_at,
        "heartbeat_age_s": _age(heartbeat_at, now),
        "sim_date": (row["sim_date"] if row else None) if mode == "replay" else None,
        "log": str(log_dir(home) / LOG_NAME),
        "jobs": jobs,
        "running_jobs": [
            {"job": r["job"], "progress": r["progress"], "message": r["message"]}
            for r in job_runs.running(db)
        ]
        if running
        else [],
        "quarantined": [
            {"id": q["id"], "kind": q["kind"], "reason": q["reason"], "serves": q["serves"]}
            for q in registry.quarantines(db)
        ],
        "live": live_quotes(db, now, mode == "replay"),
        "queue": {
            "counts": commands.counts(db),
            "recent": [
                {
                    "id": c["id"],
                    "kind": c["kind"],
                    "status": c["status"],
                    "created_at": c["created_at"],
                    "error": c["error"],
                }
                for c in commands.recent(db, 5)
            ],
        },
    }


def _next_retrain(settings: Settings, db: sqlite_utils.Database, now: datetime) -> str | None:
    every = int(settings.schedule.retrain_every_days)
    last = job_runs.last(db, "retrain", status="ok")
    due = (
        now
        if last is None
        else max(now, datetime.fromisoformat(last["started_at"]) + timedelta(days=every))
    )
    s = settings.schedule
    slot = scheduler.next_slot(due, s.drift_check_at, s.timezone, settings.calendar.exchange)
    return None if slot is None else scheduler.slot_key(slot)


def unit_name(home: Path) -> str:
    """The unit's name for a data home: two homes get two units, never one overwritten.

    `trading-assistant-<folder>-<8 hex of the resolved path>.service`; the folder name
    keeps only characters systemd allows unescaped.
    """
    resolved = Path(home).expanduser().resolve()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", resolved.name).strip("-.")[:40] or "home"
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return f"{UNIT_PREFIX}-{slug}-{digest}.service"


def unit_path(home: Path) -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / unit_name(home)


def _refuse_control_characters(what: str, text: str) -> None:
    # A unit file is line-based: a newline in a value would start a directive of its own.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise AssistantError(
            f"{what} {text!r} contains a control character (newline, tab, ...); "
            "a systemd unit cannot carry it: use a path without one"
        )


def _quote(arg: str) -> str:
    """One ExecStart= word, double-quoted by systemd's rules.

    Inside quotes a backslash escapes, `%` starts a specifier (`%%` is a percent sign) and
    `$` starts a variable (`$$` is a dollar sign). Words without any special character
    stay bare, so a plain path reads as itself.
    """
    if arg and not any(c in arg for c in " \"\\'$%;"):
        return arg
    return (
        '"'
        + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
        + '"'
    )


def unit_text(home: Path) -> str:
    words = [sys.executable, "-m", "assistant", "--home", str(home), "daemon"]
    for what, text in (("the data home", str(home)), ("the Python interpreter", sys.executable)):
        _refuse_control_characters(what, text)
    exec_start = " ".join(_quote(a) for a in words)
    # Description= is not split into words, but specifiers (%h, %n) are expanded in it.
    shown = str(home).replace("%", "%%")
    return (
        "[Unit]\n"
        # No After=network-online.target: a user unit cannot wait on that system target;
        # the daemon treats an unreachable network as temporary and retries.
        f"Description=trading-assistant daemon (data home {shown})\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={exec_start}\n"
        "# `systemctl --user reload` sends SIGHUP: the daemon reloads config.toml.\n"
        "ExecReload=/bin/kill -HUP $MAINPID\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "# The daemon exits 0 within 10 s of SIGTERM, even while training.\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=30\n"
        "Environment=PYTHONUNBUFFERED=1\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


UNIT_MODE = 0o644  # systemd reads it; only its owner may change what it runs
UNIT_DIR_MODE = 0o755


def _make_dirs(path: Path) -> None:
    """Create `path` and its missing parents as UNIT_DIR_MODE whatever the umask.

    Folders that exist already are left as they are.
    """
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir()
        directory.chmod(UNIT_DIR_MODE)


def install_unit(home: Path) -> Path:
    text = unit_text(home)  # refuses a home it cannot express before anything is written
    path = unit_path(home)
    tmp = path.with_suffix(".tmp")
    try:
        _make_dirs(path.parent)
    except OSError as exc:
        raise AssistantError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(
            os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, UNIT_MODE), "w", encoding="utf-8"
        ) as out:
            os.fchmod(out.fileno(), UNIT_MODE)  # open()'s mode is filtered by the umask
            out.write(text)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AssistantError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.replace(tmp, path)
    return path


def uninstall_unit(home: Path) -> tuple[Path, bool]:
    """Disable and stop this home's unit (where a user systemd answers), remove its file.

    Returns (the removed path, whether systemd disabled it). AssistantError if no unit
    is installed for the home.
    """
    path = unit_path(home)
    if not path.exists():
        raise AssistantError(f"no service is installed for {Path(home).resolve()} ({path})")
    disabled = False
    if shutil.which("systemctl"):
        try:
            done = subprocess.run(
                ["systemctl", "--user", "disable", "--now", path.name],
                capture_output=True,
                timeout=30,
            )
            disabled = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            disabled = False
    path.unlink()
    if disabled:
        subprocess.run(["systemctl", "--user", "daemon-reload"], capture_output=True, timeout=30)
    return path, disabled
