"""`assistant start|stop|status` and `service install`, through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from assistant.cli import main
from assistant.daemon import lock
from tests.cli_fixture import run_cli
from tests.daemon_fixture import FAST_ENV, cli, env


def _inproc(capsys, home, *args):
    """status/stop in this process (the daemon itself always runs in its own)."""
    capsys.readouterr()
    rc = main(["--home", str(home), *args])
    out = capsys.readouterr()
    return rc, out.out


@pytest.mark.slow
def test_start_status_stop_and_one_daemon_per_home(tmp_path, capsys, monkeypatch):
    for k, v in env().items():
        if k.startswith("ASSISTANT_"):
            monkeypatch.setenv(k, v)
    home = tmp_path / "home"
    try:
        _start_status_stop(home, capsys)
    finally:  # a failed assertion must not leave a detached daemon behind
        if (left := lock.holder(home)) is not None:
            os.kill(left, signal.SIGKILL)


def _start_status_stop(home, capsys):
    home.mkdir()  # status refuses a home that does not exist
    before = json.loads(_inproc(capsys, home, "status", "--json")[1])
    assert before["running"] is False and before["pid"] is None

    out = cli(home, "start")
    assert out.returncode == 0, out.stderr
    pid = lock.holder(home)
    assert pid and f"daemon started (pid {pid})" in out.stdout

    status = json.loads(_inproc(capsys, home, "status", "--json")[1])
    assert status["running"] is True and status["pid"] == pid and status["mode"] == "live"
    assert status["heartbeat_age_s"] is not None and status["heartbeat_age_s"] < 10
    assert set(status["jobs"]) == {"collect", "cycle", "paper", "verify", "drift", "retrain"}
    assert status["jobs"]["collect"]["next"].endswith(("16:30-05:00", "16:30-04:00"))
    text = _inproc(capsys, home, "status")[1]
    assert f"daemon: running (pid {pid}, mode live" in text and "next run" in text

    # A second daemon for the same home is refused, naming the running one.
    second = cli(home, "daemon")
    assert second.returncode == 1
    assert second.stderr.strip().startswith("error: a daemon is already running for")
    assert f"(pid {pid})" in second.stderr
    again = cli(home, "start")
    assert again.returncode == 1 and f"(pid {pid})" in again.stderr

    rc, out = _inproc(capsys, home, "stop")
    assert rc == 0 and out.strip() == f"daemon stopped (pid {pid})"
    assert lock.holder(home) is None
    after = json.loads(_inproc(capsys, home, "status", "--json")[1])
    assert after["running"] is False and after["state"] == "stopped"
    assert "daemon stopped" in (home / "logs" / "daemon.log").read_text()
    assert _inproc(capsys, home, "stop")[1].strip() == "no daemon is running for this home"


def test_bad_replay_options_are_refused_before_anything_starts(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()  # a missing one is refused first
    for args, msg in (
        (["start", "--speed", "2"], "need --replay"),
        (["daemon", "--replay", "--from", "yesterday-ish"], "is not a date"),
        (["start", "--replay", "--speed", "-1"], "--speed must be"),
    ):
        rc = main(["--home", str(home), *args])
        err = capsys.readouterr().err
        assert rc == 1 and err.startswith("error: ") and msg in err, (args, err)
    assert lock.holder(home) is None


def _service(home, xdg, action):
    return run_cli(  # in-process: the files it writes are the point
        home,
        "service",
        action,
        env={
            **FAST_ENV,
            "ASSISTANT_HOME": None,
            "XDG_CONFIG_HOME": str(xdg),
            "PATH": "/nonexistent",
        },
    )


def test_service_install_names_the_unit_after_the_home_and_uninstall_removes_it(tmp_path):
    home, other, xdg = tmp_path / "my home", tmp_path / "second", tmp_path / "xdg"
    out = _service(home, xdg, "install")
    assert out.returncode == 0, out.stderr
    [unit] = (xdg / "systemd" / "user").glob("*.service")
    assert unit.name.startswith("trading-assistant-my-home-") and unit.name.endswith(".service")
    assert f"wrote {unit}" in out.stdout
    assert f"unit name: {unit.name} (named after the data home {home.resolve()})" in out.stdout
    assert f"systemctl --user enable --now {unit.name}" in out.stdout
    text = unit.read_text()
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text  # SIGHUP reloads the configuration
    assert "network-online" not in text  # a user unit cannot wait on a system target
    assert f'ExecStart={sys.executable} -m assistant --home "{home.resolve()}" daemon' in text
    assert os.access(unit, os.R_OK)
    # A second home gets a second unit; the first is left as it was.
    assert _service(other, xdg, "install").returncode == 0
    units = sorted((xdg / "systemd" / "user").glob("*.service"))
    assert len(units) == 2 and unit.read_text() == text
    out = _service(home, xdg, "uninstall")
    assert out.returncode == 0, out.stderr
    assert f"removed {unit}" in out.stdout and not unit.exists()
    assert len(list((xdg / "systemd" / "user").glob("*.service"))) == 1
    again = _service(home, xdg, "uninstall")
    assert again.returncode == 1 and again.stderr.startswith("error: no service is installed")
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path):
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    assert _service(home, xdg, "install").returncode == 0
    [unit] = (xdg / "systemd" / "user").glob("*.service")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and unit.name not in done.stderr, done.stderr
