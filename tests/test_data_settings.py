"""Settings out of range are refused at load, from config.toml and from the environment alike."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli_fixture import Ran, run_cli
from tests.daemon_fixture import ROOT

BAD = [
    ("daemon", "heartbeat_seconds", "-5", "a whole number from 1 to 600 seconds"),
    ("daemon", "heartbeat_seconds", "0", "a whole number from 1 to 600 seconds"),
    ("models", "horizons", "[0]", "one or more distinct session counts from 1 to 63"),
    ("models", "horizons", "[-1, 3]", "one or more distinct session counts from 1 to 63"),
    ("models", "horizons", "[]", "one or more distinct session counts"),
    ("models", "window", "0", "a whole number from 1 to 64 sessions"),
    ("models", "epochs", "0", "at least 1"),
    ("schedule", "timezone", '"Mars/Olympus"', "an IANA time zone"),
    ("schedule", "collect_at", '"25:99"', "a 24-hour time HH:MM"),
    ("schedule", "drift_check_at", '"noon"', "a 24-hour time HH:MM"),
    ("schedule", "retrain_every_days", "0", "at least 1"),
    ("calendar", "exchange", '"NOPE"', "an exchange_calendars code"),
    ("collect", "source", '"ftp"', "one of sample, yahoo, csv"),
    ("collect", "history_years", "0", "a whole number from 1 to 100 years"),
    ("cycle", "learning_rate", "0", "a number above 0 and at most 1"),
    ("daemon", "replay_speed", "-1", "a number at least 0"),
]


def _assistant(home, *args, **extra_env) -> Ran:
    """In-process, with no ASSISTANT_ variable but `extra_env`."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSISTANT_")}
    return run_cli(home, *args, env={**clean, **extra_env})


def _assistant_process(home, *args, **extra_env) -> subprocess.CompletedProcess:
    """A real process, for a daemon that must refuse to start (had it started, it would run)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return subprocess.run(
        [sys.executable, "-m", "assistant", "--home", str(home), *args],
        cwd=ROOT,
        env={**clean, **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_error(out: subprocess.CompletedProcess | Ran) -> str:
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


@pytest.mark.parametrize(("section", "key", "value", "allowed"), BAD)
def test_a_bad_value_in_config_toml_is_one_error_naming_key_value_and_range(
    tmp_path, section, key, value, allowed
):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f"[{section}]\n{key} = {value}\n")
    line = _one_error(_assistant(home, "config"))
    assert f"[{section}] {key} = " in line and allowed in line, line
    assert str(home / "config.toml") in line


@pytest.mark.parametrize(
    ("name", "raw", "shown"),
    [
        ("ASSISTANT_DAEMON_HEARTBEAT_SECONDS", "-5", "-5"),
        ("ASSISTANT_MODELS_HORIZONS", "0", "[0]"),
        ("ASSISTANT_SCHEDULE_TIMEZONE", "Nowhere/Else", "'Nowhere/Else'"),
        ("ASSISTANT_COLLECT_JUMP_THRESHOLD", "nan", "nan"),
    ],
)
def test_a_bad_environment_override_names_the_variable(tmp_path, name, raw, shown):
    line = _one_error(_assistant(tmp_path / "home", "config", **{name: raw}))
    assert line.startswith(f"error: {name}: ") and f"= {shown} is not allowed" in line, line


@pytest.mark.slow  # real processes: a daemon that starts would not return
def test_the_daemon_refuses_to_start_on_a_spinning_heartbeat(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[daemon]\nheartbeat_seconds = -5\n")
    for command in (["daemon", "--replay"], ["start"]):
        line = _one_error(_assistant_process(home, *command))
        assert "heartbeat_seconds = -5" in line


def test_weights_must_keep_their_order(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[cycle]\nweight_min = 2.0\nweight_max = 1.0\n")
    line = _one_error(_assistant(home, "config"))
    assert "weight_min = 2.0 is above weight_max = 1.0" in line


def test_good_values_still_load(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[calendar]\nexchange = "XLON"\n[schedule]\ntimezone = "Europe/London"\n'
        'collect_at = "17:05"\n[models]\nhorizons = [1, 2, 10]\nwindow = 64\n'
    )
    out = _assistant(home, "config", "--json", ASSISTANT_DAEMON_HEARTBEAT_SECONDS="30")
    assert out.returncode == 0, out.stderr
    assert '"exchange": "XLON"' in out.stdout and '"heartbeat_seconds": 30' in out.stdout
