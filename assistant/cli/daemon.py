"""CLI commands: daemon, start, stop, status, service install.

Heavy modules (the daemon loop pulls in pandas and the exchange calendars) are
imported inside the command functions so `assistant --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from assistant.cli.common import date_option, home_of, open_home, print_json, table
from assistant.config import Settings
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.daemon.loop import ReplayOptions
    from store.quotes import LiveQuote


def _replay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--replay",
        action="store_true",
        help="drive the jobs with a simulated clock over stored/sample history",
    )
    p.add_argument(
        "--from",
        dest="from_date",
        metavar="DATE",
        type=date_option("--from"),
        help="replay start (default: 250 sessions before the end of the source's data, "
        "or where a previous replay of this home stopped)",
    )
    p.add_argument(
        "--speed",
        type=float,
        metavar="SESSIONS_PER_SECOND",
        help="replay speed in sessions per second; 0 = as fast as possible "
        "(default: [daemon] replay_speed)",
    )
    p.add_argument(
        "--retrain-every",
        type=int,
        metavar="SESSIONS",
        help="replay: retrain every N sessions (default: [schedule] retrain_every_days)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "daemon",
        help="run the daemon in the foreground (logs to stderr and <home>/logs)",
        description="Run the scheduler loop in the foreground: live jobs at exchange-local "
        "times, or --replay over history. Ctrl-C or SIGTERM stops it cleanly; SIGHUP "
        "reloads <home>/config.toml (a bad one keeps the running configuration).",
    )
    _replay_args(p)
    p.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_daemon)

    p = sub.add_parser(
        "start",
        help="start the daemon in the background",
        description="Start the daemon detached from the terminal; it logs to "
        "<home>/logs/daemon.log. Takes the same options as `daemon`.",
    )
    _replay_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser(
        "stop",
        help="stop the background daemon (SIGTERM, waits for it)",
        description="Send SIGTERM to the home's daemon and wait until it has exited.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser(
        "status",
        help="is the daemon running; its jobs and command queue",
        description="Show whether the daemon runs (pid, uptime, mode, heartbeat age), "
        "the last and next run of each job, and the command queue.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "service",
        help="install or uninstall the daemon as a systemd user service",
        description="Manage the systemd user unit that runs the daemon.",
    )
    ssub = p.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    q = ssub.add_parser(
        "install",
        help="write ~/.config/systemd/user/trading-assistant-<home>-<hash>.service",
        description="Write the systemd user unit (Restart=on-failure) for this data "
        "home and print how to enable it. The unit is named after the home, so each home "
        "gets its own. Honours XDG_CONFIG_HOME.",
    )
    q.set_defaults(func=cmd_service_install)
    q = ssub.add_parser(
        "uninstall",
        help="remove this home's systemd user unit",
        description="Remove the unit file `service install` wrote for this data home and "
        "print how to stop and forget it.",
    )
    q.set_defaults(func=cmd_service_uninstall)


def _options(args: argparse.Namespace, settings: Settings) -> ReplayOptions | None:
    from assistant.daemon.loop import ReplayOptions

    if not args.replay:
        if args.from_date or args.speed is not None or args.retrain_every is not None:
            raise AssistantError("--from, --speed and --retrain-every need --replay")
        return None
    speed = settings.daemon.replay_speed if args.speed is None else args.speed
    if speed < 0:
        raise AssistantError("--speed must be 0 (as fast as possible) or more")
    if args.retrain_every is not None and args.retrain_every < 1:
        raise AssistantError("--retrain-every must be at least 1")
    return ReplayOptions(
        from_date=args.from_date, speed=float(speed), retrain_every=args.retrain_every
    )


def cmd_daemon(args: argparse.Namespace) -> int:
    import signal

    from assistant import config
    from assistant.daemon.loop import Daemon
    from store.db import ensure_private_dir

    home = ensure_private_dir(home_of(args))
    settings = config.load(home)
    daemon = Daemon(
        home,
        settings,
        replay_options=_options(args, settings),
        log_to_file=True,
        log_to_stderr=not args.detached,
    )
    signal.signal(signal.SIGTERM, daemon.request_stop)
    signal.signal(signal.SIGINT, daemon.request_stop)
    signal.signal(signal.SIGHUP, daemon.request_reload)  # by convention: reload the config
    code = daemon.run()
    if daemon.restart:
        _run_again()
    return code


def _run_again() -> None:
    """Replace this process with the same command line, run anew with the program now
    installed (same pid: a systemd unit or `assistant stop` keeps track of it)."""
    import logging
    import os
    import sys

    logging.getLogger("assistant.daemon").info("running again: %s", " ".join(sys.orig_argv))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    except OSError as exc:  # then the exit status (EXIT_UPGRADED) asks for a restart
        print(f"error: could not run the daemon again ({exc}); start it again", file=sys.stderr)


def _pass_through(args: argparse.Namespace) -> list[str]:
    out = []
    if args.replay:
        out.append("--replay")
    if args.from_date:
        out += ["--from", args.from_date.isoformat()]
    if args.speed is not None:
        out += ["--speed", str(args.speed)]
    if args.retrain_every is not None:
        out += ["--retrain-every", str(args.retrain_every)]
    return out


def cmd_start(args: argparse.Namespace) -> int:
    from assistant.daemon import service

    home, settings, db = open_home(args)
    db.close()
    _options(args, settings)  # bad options fail here, not in the detached process
    pid = service.start(home, _pass_through(args))
    log = home / "logs" / "daemon.log"
    if not args.replay and settings.collect.source == "sample":
        print(offline_note(settings), file=sys.stderr)
    if args.json:
        print_json(
            {
                "started": True,
                "pid": pid,
                "mode": "replay" if args.replay else "live",
                "log": str(log),
            }
        )
        return 0
    print(f"daemon started (pid {pid}); log: {log}")
    return 0


def offline_note(settings: Settings) -> str:
    """What a live daemon on the offline sample can and cannot do, and what works instead."""
    from assistant.ingest.collect import source_ends

    end = max(source_ends(settings).values())
    return (
        f"note: this home's source is the offline sample, whose history ends on {end}: "
        "a live daemon here never sees a new bar, so its calls wait for outcomes that "
        "cannot come and the dashboard's data stays stale. Offline, `assistant stop` then "
        "`assistant start --replay` replays the history (calls made and verified as it goes), "
        "or `assistant demo` does the same in a separate home with the dashboard; for live "
        'data set collect.source = "yahoo" in config.toml.'
    )


def cmd_stop(args: argparse.Namespace) -> int:
    from assistant.daemon import service

    home = home_of(args)
    pid = service.stop(home)
    if args.json:
        print_json({"stopped": pid is not None, "pid": pid})
        return 0
    print("no daemon is running for this home" if pid is None else f"daemon stopped (pid {pid})")
    return 0


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def cmd_status(args: argparse.Namespace) -> int:
    from assistant.daemon import service
    from store import registry

    home, settings, db = open_home(args, writes=False)
    try:
        info = service.status(home, settings, db)
    finally:
        db.close()
    if args.json:
        print_json(info)
        return 0
    if info["running"]:
        print(
            f"daemon: running (pid {info['pid']}, mode {info['mode']}, state {info['state']}, "
            f"up {_fmt_s(info['uptime_s'])})"
        )
    else:
        print(f"daemon: not running (last heartbeat {info['heartbeat_at'] or 'never'})")
    age = info["heartbeat_age_s"]
    line = f"heartbeat: {'-' if age is None else f'{age:.1f} s ago'}"
    if info["sim_date"]:
        line += f"   simulated session: {info['sim_date']}"
    print(line)
    print(f"log: {info['log']}")
    for q in info["quarantined"]:
        print(f"QUARANTINED: {registry.quarantine_notice(q)}")
    rows = [
        [
            job,
            (j["last_started"] or "never"),
            j["last_status"] or "-",
            j["next"] or "-",
            (j["last_message"] or "")[:60],
        ]
        for job, j in info["jobs"].items()
    ]
    print(table(rows, ["job", "last run", "status", "next run", "message"]))
    for r in info["running_jobs"]:
        print(f"running: {r['job']} {int((r['progress'] or 0) * 100)}% {r['message'] or ''}")
    for quote in info["live"]:
        print(live_text(quote))
    counts = info["queue"]["counts"]
    print("commands: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    for c in info["queue"]["recent"]:
        print(f"  #{c['id']} {c['kind']} {c['status']}" + (f": {c['error']}" if c["error"] else ""))
    return 0


BAND_WORDS = {
    "inside80": "inside today's 80% range",
    "inside95": "inside today's 95% range (outside the 80%)",
    "outside95": "OUTSIDE today's 95% range",
}


def live_text(q: LiveQuote) -> str:
    """One `status` line for a quote: 'live: AAPL 187.20 +1.23% (+0.8 sigma) inside today's
    80% range; at 14:35 UTC' or 'live: AAPL STALE 17m old (3 polls with nothing newer)'."""
    from vocab.status import human_age

    head = f"live: {q['symbol']} {q['price']:,.2f}"
    when = f"quoted {q['at'][:16].replace('T', ' ')} UTC"
    if q["state"] == "stale":
        return f"{head} STALE: {human_age(q['age_s'])} old, {q['misses']} poll(s) with nothing newer ({when})"
    parts = [head]
    if q["move_pct"] is not None:
        parts.append(f"{q['move_pct']:+.2f}% since the last close")
    if q["sigmas"] is not None:
        parts.append(f"({q['sigmas']:+.1f} sigma)")
    text = " ".join(parts)
    text += "; " + (BAND_WORDS[q["band"]] if q["band"] else "no range for today")
    if q["left95"] and q["band"] != "outside95":
        text += " (it left the 95% range earlier this session)"
    text += f"; {when}" + (", session closed" if q["state"] == "closed" else "")
    return text


def cmd_service_install(args: argparse.Namespace) -> int:
    from assistant.daemon import service

    home = home_of(args).resolve()
    path = service.install_unit(home)
    name = path.name
    sys.stdout.write(
        f"wrote {path}\n"
        f"unit name: {name} (named after the data home {home})\n"
        "enable and start it with:\n"
        "  systemctl --user daemon-reload\n"
        f"  systemctl --user enable --now {name}\n"
        "keep it running after you log out with:\n"
        "  loginctl enable-linger $USER\n"
        f"follow it with: journalctl --user -u {name} -f   (or `assistant status`)\n"
        "remove it with: assistant service uninstall\n"
    )
    return 0


def cmd_service_uninstall(args: argparse.Namespace) -> int:
    from assistant.daemon import service

    home = home_of(args).resolve()
    name = service.unit_name(home)
    path, disabled = service.uninstall_unit(home)
    sys.stdout.write(f"removed {path}\n")
    if disabled:
        sys.stdout.write(f"stopped and disabled {name}\n")
    else:
        sys.stdout.write(
            "systemd did not answer here; if the unit was enabled elsewhere, run:\n"
            f"  systemctl --user disable --now {name}; systemctl --user daemon-reload\n"
        )
    return 0
