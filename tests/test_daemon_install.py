"""What `service install` and `--home` do to files and folders that are not the product's own."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests.cli_fixture import Ran, run_cli
from tests.daemon_fixture import FAST_ENV


def _run(home, *args, xdg=None, umask=None) -> Ran:
    """In-process, under `umask` if given (the test process's umask, put back after)."""
    extra: dict[str, str | None] = {"PATH": "/nonexistent"}  # no systemctl is reached
    if xdg is not None:
        extra["XDG_CONFIG_HOME"] = str(xdg)
    before = None if umask is None else os.umask(umask)
    try:
        return run_cli(home, *args, env={**FAST_ENV, "ASSISTANT_HOME": None, **extra})
    finally:
        if before is not None:
            os.umask(before)


def _systemd_words(line: str) -> list[str]:
    """ExecStart= words as systemd reads them: quotes, C escapes, %% and $$."""
    words, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        word, quoted = "", line[i] == '"'
        i += quoted
        while i < len(line) and (quoted or line[i] != " "):
            c = line[i]
            if quoted and c == '"':
                i += 1
                break
            if c == "\\":
                word, i = word + line[i + 1], i + 2
            elif c in "%$":
                assert line[i + 1] == c, f"an unescaped {c} in {line!r}"
                word, i = word + c, i + 2
            else:
                word, i = word + c, i + 1
        words.append(word)
    return words


def test_a_newline_in_the_home_path_is_refused_and_no_unit_is_written(tmp_path):
    xdg = tmp_path / "xdg"
    home = tmp_path / "h\nExecStartPre=/bin/touch /tmp/owned\n"
    out = _run(home, "service", "install", xdg=xdg)
    assert out.returncode == 1, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the data home"), out.stderr
    assert "control character" in lines[0]
    assert not (xdg / "systemd").exists()


def test_specials_in_the_home_path_reach_the_daemon_as_they_are(tmp_path):
    xdg = tmp_path / "xdg"
    home = tmp_path / 'my $HOME 100% "quoted" back\\slash;semi'
    out = _run(home, "service", "install", xdg=xdg)
    assert out.returncode == 0, out.stderr
    [unit] = (xdg / "systemd" / "user").glob("*.service")
    text = unit.read_text()
    [exec_start] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    words = _systemd_words(exec_start.removeprefix("ExecStart="))
    assert words == [sys.executable, "-m", "assistant", "--home", str(home.resolve()), "daemon"]
    [description] = [line for line in text.splitlines() if line.startswith("Description=")]
    assert "100%% " in description  # a lone % would be read as a specifier
    if shutil.which("systemd-analyze"):
        done = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and unit.name not in done.stderr, done.stderr


def test_the_unit_is_not_world_writable_under_umask_000(tmp_path):
    xdg = tmp_path / "xdg"
    out = _run(tmp_path / "home", "service", "install", xdg=xdg, umask=0)
    assert out.returncode == 0, out.stderr
    [unit] = (xdg / "systemd" / "user").glob("*.service")
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    for folder in (xdg / "systemd", xdg / "systemd" / "user"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder


def test_an_existing_shared_folder_given_as_home_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    out = _run(shared, "watch", "add", "AAPL")
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # the sticky bit is still there
    assert stat.S_IMODE((shared / "assistant.db").stat().st_mode) == 0o600
    created = tmp_path / "new" / "home"
    assert _run(created, "watch", "add", "AAPL").returncode == 0
    assert stat.S_IMODE(created.stat().st_mode) == 0o700  # a home the product makes is private


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_a_new_home_is_private_whatever_the_umask(tmp_path, umask):
    home = tmp_path / "home"
    assert _run(home, "watch", "add", "AAPL", umask=umask).returncode == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
