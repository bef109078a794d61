"""CLI commands: `tui` (open the dashboard) and `demo` (replay daemon + dashboard on a demo home).

The assistant package never imports Textual: both commands start the TUI as a child
process (`python -m tui --home DIR`) that inherits the terminal. The demo runs the
replay daemon as a second child with its output in a log file, and stops it when the
TUI exits (SIGTERM, a grace period, then SIGKILL), so nothing is left running.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from assistant.cli.common import date_option, home_option, open_home
from assistant.config import Settings
from assistant.errors import AssistantError

DEMO_SYMBOLS = ["^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"]
# The demo's model set: a replay's due retrain holds its clock, so the demo trains kinds that
# fit in seconds on 2 cores (their ensemble comes with them); `--models` adds the torch kinds.
DEMO_KINDS = ("xgboost", "markov", "rules", "ranking")
DEMO_RETRAIN_EVERY = 21  # sessions between the replay's retrains (about a month)
DEMO_LOG = "demo-daemon.log"
STOP_WAIT_S = 15.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tui = sub.add_parser(
        "tui",
        help="open the dashboard on the data home",
        description="Open the Textual dashboard on the data home: watchlist, pending predictions, "
        "accuracy against baselines, regimes, the daemon's state. It reads the database and only "
        "queues commands; the daemon (`assistant start`) does the work. Press ? inside for the keys.",
    )
    tui.set_defaults(func=cmd_tui, full_screen=True)
    demo = sub.add_parser(
        "demo",
        help="replay bundled market history through the daemon and watch it in the dashboard",
        description="Make a separate demo home (never your real one), load the bundled sample "
        "history of ^GSPC, ^IXIC, AAPL, GOOG, IBM and MSFT (2004-08 to 2013-03), start the daemon "
        "in replay mode in the background and open the dashboard on it. On a home that already "
        "stores other bars (imported CSVs), those replay too. The demo trains the fast model "
        f"kinds ({', '.join(DEMO_KINDS)}, and the forecasters' ensemble) unless --models or the demo home's "
        "config.toml says otherwise, so model calls appear within a minute or so; leaving the "
        "dashboard (q) stops the demo daemon.",
    )
    demo.add_argument(
        "--home",
        dest="demo_home",
        type=home_option,
        help="demo data home (default: the platform data dir's trading-assistant-demo)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulated sessions per second (default: [daemon] replay_speed)",
    )
    demo.add_argument(
        "--from",
        dest="from_date",
        metavar="DATE",
        type=date_option("--from"),
        help="first simulated session (YYYY-MM-DD)",
    )
    demo.add_argument(
        "--models",
        type=demo_kinds,
        help="comma-separated model kinds the demo trains, kept in the demo home's config.toml "
        f"(default {','.join(DEMO_KINDS)}; e.g. {','.join(DEMO_KINDS)},lstm,gru,transformer "
        "to watch the torch kinds too: each retrain then takes minutes, and the replay waits)",
    )
    demo.set_defaults(func=cmd_demo, full_screen=True)


def demo_kinds(text: str) -> list[str]:
    from models.catalog import TRAINABLE as known  # only when --models is given

    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in known]
    if not kinds or unknown or len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give distinct model kinds out of {', '.join(known)}"
        )
    return kinds


def tui_command(home: Path, settings: Settings, *, demo: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tui",
        "--home",
        str(home),
        "--heartbeat-seconds",
        str(settings.daemon.heartbeat_seconds),
    ] + (["--demo"] if demo else [])


def cmd_tui(args: argparse.Namespace) -> int:
    home, settings, db = open_home(args)
    db.close()
    return subprocess.run(tui_command(home, settings)).returncode


def demo_home(args: argparse.Namespace) -> Path:
    if getattr(args, "demo_home", None):
        return Path(args.demo_home).expanduser()
    if getattr(args, "home", None):
        return Path(args.home).expanduser()
    import platformdirs

    # Deliberately not $ASSISTANT_HOME: the demo never touches the user's real data home.
    return Path(platformdirs.user_data_dir("trading-assistant-demo", appauthor=False))


def restart_finished_demo(home: Path) -> None:
    """A demo home whose replay already reached the end of the sample starts over.

    Only a home this command made (it holds the demo daemon's log) is ever cleared, and
    only its database and models: a finished replay has nothing left to show.
    """
    import shutil

    from assistant.daemon.lock import holder
    from store import jobs
    from store.db import DB_FILENAME, StoreError, connect

    path = home / DB_FILENAME
    if not (home / DEMO_LOG).exists() or not path.exists() or holder(home) is not None:
        return
    try:
        db = connect(path)
        try:
            run = jobs.last(db, "replay")
        finally:
            db.close()
    except (StoreError, sqlite3.DatabaseError):
        return
    if not run or run["status"] != "ok" or not str(run["message"]).startswith("replay finished"):
        return
    print(f"the previous demo replay in {home} finished; starting a fresh one", file=sys.stderr)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(home / "models", ignore_errors=True)


def write_demo_config(home: Path, kinds: list[str] | None = None) -> None:
    """collect.source = sample, the model kinds (`kinds`, else DEMO_KINDS unless the config
    names some) and the replay's retrain cadence (unless set), keeping anything else
    already in the demo's config."""
    import tomllib

    import tomli_w

    path = home / "config.toml"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise AssistantError(f"{path}: not valid TOML ({exc})") from None
    data.setdefault("collect", {})["source"] = "sample"
    models = data.setdefault("models", {})
    if kinds is not None:
        models["kinds"] = list(kinds)
    else:
        models.setdefault("kinds", list(DEMO_KINDS))
    # The replay's clock waits for each due retrain: monthly ones keep the sessions moving.
    data.setdefault("schedule", {}).setdefault("retrain_every_days", DEMO_RETRAIN_EVERY)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def stop_process(proc: subprocess.Popen[bytes], wait_s: float = STOP_WAIT_S) -> int:
    """SIGTERM, wait, then SIGKILL: the demo daemon never outlives the demo."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def prepare_demo(
    home: Path,
    *,
    kinds: list[str] | None = None,
    speed: float | None = None,
    from_date: date | None = None,
) -> tuple[Settings, list[str]]:
    """Make `home` a demo home (sample source, the demo's symbols and model kinds) and
    return its settings and the replay daemon's command line (what `bench/bench_demo.py`
    runs too). A finished replay starts over; a daemon already on the home is an error."""
    from assistant import config
    from assistant.daemon.lock import holder
    from assistant.daemon.service import daemon_command
    from store import symbols
    from store.db import ensure_private_dir

    ensure_private_dir(home)
    restart_finished_demo(home)
    write_demo_config(home, kinds)
    home, settings, db = open_home(argparse.Namespace(home=home))
    try:
        if config.load(home).collect.source != "sample":
            raise AssistantError(
                "the demo needs collect.source = sample (is ASSISTANT_COLLECT_SOURCE set?)"
            )
        symbols.add(db, DEMO_SYMBOLS, "sample")
    finally:
        db.close()
    running = holder(home)
    if running is not None:
        raise AssistantError(
            f"a daemon (pid {running or 'unknown'}) already runs on the demo home {home}; "
            "stop it with `assistant --home ... stop` or use another --home"
        )
    speed = speed if speed is not None else float(settings.daemon.replay_speed)
    cmd = daemon_command(home, "--replay", "--speed", str(speed))
    if from_date:
        cmd += ["--from", from_date.isoformat()]
    return settings, cmd


def cmd_demo(args: argparse.Namespace) -> int:
    home = demo_home(args)
    settings, cmd = prepare_demo(
        home, kinds=args.models, speed=args.speed, from_date=args.from_date
    )
    log_path = home / DEMO_LOG
    with open(log_path, "ab") as log:
        # Its own session: a Ctrl-C in the dashboard does not hit the daemon; we stop it below.
        daemon = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        time.sleep(0.5)
        if daemon.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise AssistantError(
                f"the demo daemon exited at once (code {daemon.returncode}): "
                + (" / ".join(tail) or f"see {log_path}")
            )
        try:
            code = subprocess.run(tui_command(home, settings, demo=True)).returncode
        except KeyboardInterrupt:
            code = 130
    finally:
        stopped = stop_process(daemon)
    print(
        f"demo daemon stopped (exit {stopped}); demo home {home}, daemon log {log_path}",
        file=sys.stderr,
    )
    return code
