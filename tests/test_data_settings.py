"""Settings out of range are refused at load, from config.toml and from the environment alike."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.cli_fixture import Ran, run_cli
from tests.daemon_fixture import ROOT

BAD = [
    ("daemon", "heartbeat_seconds", "-5", "a whole number from 1 to 600 seconds"),
    ("daemon", "heartbeat_seconds", "0", "a whole number from 1 to 600 seconds"),
    # a mistyped kind: the daemon started on it and every retrain failed, in its log only
    ("models", "kinds", '["markov", "rulez"]', "distinct model kinds from lstm, gru, "),
    ("models", "kinds", '["markov", "markov"]', "distinct model kinds from lstm, gru, "),
    ("models", "horizons", "[0]", "one or more distinct session counts from 1 to 63"),
    ("models", "horizons", "[-1, 3]", "one or more distinct session counts from 1 to 63"),
    ("models", "horizons", "[]", "one or more distinct session counts"),
    ("models", "window", "0", "a whole number from 1 to 64 sessions"),
    ("models", "epochs", "0", "a whole number from 1 to 10,000"),
    ("models", "epochs", "99999999999999", "a whole number from 1 to 10,000"),
    ("alerts", "timeout_seconds", "1e10", "a number above 0 and at most 3600"),
    ("schedule", "timezone", '"Mars/Olympus"', "an IANA time zone"),
    ("schedule", "collect_at", '"25:99"', "a 24-hour time HH:MM"),
    ("schedule", "drift_check_at", '"noon"', "a 24-hour time HH:MM"),
    ("schedule", "retrain_every_days", "0", "a whole number from 1 to 3,660 days"),
    ("calendar", "exchange", '"NOPE"', "an exchange_calendars code"),
    ("collect", "source", '"ftp"', "one of sample, yahoo, csv"),
    ("collect", "history_years", "0", "a whole number from 1 to 100 years"),
    ("cycle", "learning_rate", "0", "a number above 0 and at most 1"),
    ("daemon", "replay_speed", "-1", "a number at least 0"),
    ("live", "poll_minutes", "-1", "a whole number from 0 to 60 minutes (0 = off)"),
    ("live", "poll_minutes", "0.5", "should be int"),
    ("live", "stale_polls", "0", "a whole number from 1 to 100 polls"),
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


def test_the_kinds_a_config_may_name_are_the_kinds_train_knows():
    from assistant.config import MODEL_KINDS
    from assistant.modeling.ranking import KIND as RANKING
    from models.catalog import TRAINABLE

    assert sorted(MODEL_KINDS) == sorted((*TRAINABLE, RANKING))


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


# In-process from here: `main([...])` with captured output.


def _refused(capsys, argv) -> str:
    from assistant.cli import main

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_every_number_has_a_minimum_and_a_maximum(tmp_path, capsys):
    import dataclasses

    from assistant import config

    home = tmp_path / "home"
    home.mkdir()
    numbers = [
        (section.name, key.name)
        for section in dataclasses.fields(config.Settings)
        for key in dataclasses.fields(section.default_factory())  # type: ignore[misc]
        if key.type in ("int", "float")
    ]
    assert len(numbers) > 30
    for section, key in numbers:
        for huge in ("99999999999999999999", "-99999999999999999999", "1e300"):
            (home / "config.toml").write_text(f"[{section}]\n{key} = {huge}\n")
            err = _refused(capsys, ["--home", str(home), "config"])
            if "should be int" in err:  # 1e300 for a whole number: a type error, one line
                continue
            assert f"[{section}] {key} = " in err and "is not allowed: it must be" in err, err
            assert " to " in err or "at most" in err, err  # the range says its maximum


def test_a_huge_alert_timeout_is_refused_before_alerts_test_sends(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[alerts]\nurls = ["json://127.0.0.1:9/x"]\ntimeout_seconds = 1e10\n'
    )
    err = _refused(capsys, ["--home", str(home), "alerts", "test"])
    assert "[alerts] timeout_seconds = 10000000000.0 is not allowed" in err
    assert "a number above 0 and at most 3600" in err


def test_a_config_saved_with_a_byte_order_mark_loads(tmp_path, capsys):
    from assistant.cli import main

    home = tmp_path / "home"
    home.mkdir()
    # Windows Notepad's "UTF-8" writes EF BB BF first (and CRLF line ends)
    (home / "config.toml").write_bytes("[models]\r\nepochs = 7\r\n".encode("utf-8-sig"))
    assert main(["--home", str(home), "config", "--json"]) == 0
    assert '"epochs": 7' in capsys.readouterr().out


def test_a_key_above_every_section_is_an_unknown_key(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("daemon = 5\n")
    err = _refused(capsys, ["--home", str(home), "config"])
    assert "unknown key 'daemon' at the top level" in err and "[daemon]" in err
    assert "unknown section" not in err


SECRET_URLS = [
    "json://alice:S3cret@example.com/hook?token=T0kenValue",
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321",
    "ntfy://bob:Pa55word@ntfy.example.com/my-topic",
]


def _with_secrets(home, mode=0o600):
    home.mkdir()
    urls = ", ".join(f'"{u}"' for u in SECRET_URLS)
    path = home / "config.toml"
    path.write_text(
        f"[alerts]\nurls = [{urls}]\n"
        '[collect]\nmacro_url = "https://user:MacroPw@fred.example.com/csv?api_key=K3yK3y"\n'
    )
    path.chmod(mode)
    return path


def test_config_never_prints_a_password_or_token(tmp_path, capsys):
    from assistant.cli import main

    home = tmp_path / "home"
    _with_secrets(home)
    for argv in (["config"], ["config", "--json"]):
        assert main(["--home", str(home), *argv]) == 0
        out = capsys.readouterr().out
        for secret in ("S3cret", "T0kenValue", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "Pa55word"):
            assert secret not in out, (argv, out)
        assert "MacroPw" not in out and "K3yK3y" not in out
        # still recognizable: scheme, user and host stay
        assert "json://alice:****@example.com" in out and "ntfy://bob:****@ntfy.example.com" in out
        assert "https://user:****@fred.example.com/csv?api_key=****" in out


def test_config_init_writes_every_key_and_loads_back(tmp_path, capsys):
    import dataclasses

    from assistant import config
    from assistant.cli import main

    home = tmp_path / "home"
    assert main(["--home", str(home), "config", "--init"]) == 0
    path = home / "config.toml"
    assert f"wrote {path}" in capsys.readouterr().out
    assert (path.stat().st_mode & 0o777) == 0o600
    text = path.read_text()
    assert config.load(home) == config.Settings()  # as written: every key commented out
    for section, keys in config.Settings().as_dict().items():
        assert f"\n[{section}]\n" in text
        for key in keys:
            assert f"\n# {key} = " in text and f"\n# {key}: " in text, key
    assert "# epochs: a whole number from 1 to 10,000" in text
    # uncommenting every key gives the defaults back: the round trip
    live = re.sub(r"(?m)^# (\w+ = )", r"\1", text)
    path.write_text(live)
    assert config.load(home, environ={}) == config.Settings()
    every = sum(
        len(dataclasses.fields(getattr(config.Settings(), s.name)))
        for s in dataclasses.fields(config.Settings)
    )
    assert every == len([line for line in live.splitlines() if " = " in line and line[0] != "#"])
    # an existing file is kept unless --force
    _refused(capsys, ["--home", str(home), "config", "--init"])
    assert path.read_text() == live
    assert main(["--home", str(home), "config", "--init", "--force"]) == 0
    assert path.read_text() == text


def test_alerts_test_never_prints_a_password_or_token(tmp_path, capsys):
    from assistant.cli import main

    home = tmp_path / "home"
    home.mkdir()  # a missing one is refused first
    for url in (
        "json://alice:S3cret@127.0.0.1:9/x?token=T0kenValue",
        "ntfy://bob:Pa55word@127.0.0.1:9/t",
    ):
        # port 9 on this machine refuses the connection: the failure is said, the secrets not
        assert main(["--home", str(home), "alerts", "test", "--url", url]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: test alert not delivered: ") and err.count("\n") == 1
        assert not any(s in err for s in ("S3cret", "T0kenValue", "Pa55word")), err


def test_a_mistyped_on_off_variable_is_an_error_not_a_silent_false(tmp_path):
    """`ASSISTANT_COLLECT_HOURLY=ture` (meant: true) turned the hourly bars off without a
    word: every word but 1/true/yes/on read as false."""
    for raw in ("ture", "nope", "enabled"):
        line = _one_error(_assistant(tmp_path / "home", "config", ASSISTANT_COLLECT_HOURLY=raw))
        assert (
            line == f"error: ASSISTANT_COLLECT_HOURLY={raw!r} is not a valid value (true or false)"
        )
    for raw, shown in (("Yes", "true"), ("off", "false"), ("0", "false")):
        ran = _assistant(tmp_path / "home", "config", ASSISTANT_COLLECT_HOURLY=raw)
        assert ran.returncode == 0 and f"hourly = {shown}" in ran.stdout, ran.stderr


def test_a_list_variable_in_the_toml_form_says_how_it_is_written(tmp_path):
    """`ASSISTANT_CYCLE_HOURLY_HORIZONS='[1, 3, 5]'` (config.toml's form) or '1 3 5' was
    "is not a valid value" and nothing more."""
    for raw in ("[1, 3, 5]", "1 3 5"):
        env = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": raw}
        line = _one_error(_assistant(tmp_path / "home", "config", **env))
        assert line.endswith("is not a valid value (a comma-separated list, e.g. 1,3,5)"), line
