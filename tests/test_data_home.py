"""A home the OS will not let us write, or a database file we cannot use, as the kernel
enforces it: read-only is not damage (readers work, writers say so in one line), an
unreadable file or a directory in the database's place is one line from every command,
never a traceback, and never the move-aside-and-restore steps that would lose the data.

Tests run as root, and chmod does not stop root. So the read-only home is a real read-only
bind mount, made in a private mount namespace (`unshare -m`) that ends with the process;
file modes are enforced by running the commands as root without the two capabilities that
let root ignore them (`setpriv --bounding-set=-dac_override,-dac_read_search`). A user who
is not root gets both through plain chmod. Each variant runs its commands in one process.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from assistant.cli import main
from tests.daemon_fixture import ROOT, env

RUN = r"""
import contextlib, io, json, sys, traceback
from assistant.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    o, e = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            rc = main(argv)
    except BaseException:
        rc = "raised"
        e.write(traceback.format_exc())
    out.append({"argv": argv, "rc": rc, "out": o.getvalue(), "err": e.getvalue()})
print("RESULT " + json.dumps(out))
"""

READERS = [["status"], ["watch", "list"], ["report"], ["predictions"]]
WRITERS = [["watch", "add", "MSFT"], ["predict"], ["daemon", "--replay"]]


def _run(prefix: list[str], home: Path, commands: list[list[str]]) -> dict[str, dict]:
    argvs = [["--home", str(home), *c] for c in commands]
    done = subprocess.run(
        [*prefix, sys.executable, "-c", RUN, json.dumps(argvs)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return {" ".join(r["argv"][2:]): r for r in json.loads(line[len("RESULT ") :])}


def _one_error(result: dict, *expected: str) -> str:
    """The command failed with one `error:` line (the daemon logs why first: its last line)."""
    assert result["rc"] == 1 and "Traceback" not in result["err"], result
    lines = result["err"].strip().splitlines()
    if result["argv"][2] != "daemon":
        assert len(lines) == 1, result
    last = lines[-1]
    assert last.startswith("error: ") and all(e in last for e in expected), result
    assert "move" not in last and "aside" not in last or "is a directory" in last, result
    return last


def _ok(result: dict) -> str:
    assert result["rc"] == 0 and result["err"] == "", result
    return result["out"]


def _home_with_calls(home: Path, tmp_path: Path) -> None:
    days = pd.bdate_range("2024-01-04", periods=60)
    rows = [
        f"{d.date()},{100 + i},{101 + i},{99 + i},{100.5 + i},{100.5 + i},1000"
        for i, d in enumerate(days)
    ]
    csv = tmp_path / "AAPL.csv"
    csv.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n" + "\n".join(rows) + "\n")
    assert main(["--home", str(home), "watch", "add", "AAPL"]) == 0
    assert main(["--home", str(home), "import", str(csv)]) == 0
    assert main(["--home", str(home), "predict"]) == 0


def _read_only_mount(home: Path) -> list[str]:
    """A prefix that runs a command with `home` mounted read-only (skip where impossible)."""
    prefix = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(home)]
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    probe = subprocess.run([*prefix, "sh", "-c", f'! touch "{home}/.probe"'], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.decode()[:200]}")
    return prefix


def _modes_enforced(tmp_path: Path) -> list[str]:
    """A prefix under which file modes bind this process's user (root included)."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    if (
        shutil.which("setpriv") is None
        or subprocess.run([*prefix, "cat", str(probe)]).returncode == 0
    ):
        pytest.skip("root cannot drop the capabilities that ignore file modes here")
    return prefix


def _closed_cleanly(home: Path) -> None:
    """The home as a daemon stopped cleanly leaves it: the database alone, no -wal or -shm
    (SQLite then needs to create the -shm to read it: what a read-only home forbids)."""
    db = home / "assistant.db"
    copy = home / "copy.db"
    src, dst = sqlite3.connect(db), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    copy.rename(db)


@pytest.mark.slow
@pytest.mark.parametrize("clean", [True, False], ids=["stopped-cleanly", "with-wal-and-shm"])
def test_a_read_only_home_is_read_and_refuses_writes_in_one_line(tmp_path, clean):
    home = tmp_path / "home"
    _home_with_calls(home, tmp_path)
    if clean:
        _closed_cleanly(home)
        assert sorted(p.name for p in home.iterdir()) == ["assistant.db"]
    before = (home / "assistant.db").read_bytes()
    copy = tmp_path / "copy.db"
    got = _run(_read_only_mount(home), home, [["check"], *READERS, ["backup", str(copy)], *WRITERS])
    check = _ok(got["check"])
    assert "home: not writable" in check and "read-only file system" in check
    assert "integrity_check passed" in check and "DAMAGED" not in check
    assert "AAPL" in _ok(got["watch list"]) and "AAPL" in _ok(got["predictions"])
    _ok(got["status"])
    _ok(got["report"])
    assert "quick_check passed" in _ok(got[f"backup {copy}"]) and copy.stat().st_size > 0
    for w in WRITERS:
        _one_error(got[" ".join(w)], "the home is not writable", "read-only file system")
    assert (home / "assistant.db").read_bytes() == before


@pytest.mark.slow
def test_a_database_file_without_read_permission_is_one_line_everywhere(tmp_path):
    prefix = _modes_enforced(tmp_path)
    home = tmp_path / "home"
    _home_with_calls(home, tmp_path)
    (home / "assistant.db").chmod(0)
    got = _run(prefix, home, [["check"], *READERS, ["backup", str(tmp_path / "c.db")], *WRITERS])
    assert got["check"]["rc"] == 1 and "cannot be read (no read permission)" in got["check"]["out"]
    assert "nothing is damaged" in got["check"]["err"] and "aside" not in got["check"]["err"]
    for name, result in got.items():
        if name != "check":
            _one_error(result, "assistant.db cannot be read (no read permission)")


@pytest.mark.slow
def test_a_read_only_database_file_is_read_and_refuses_writes(tmp_path):
    prefix = _modes_enforced(tmp_path)
    home = tmp_path / "home"
    _home_with_calls(home, tmp_path)
    (home / "assistant.db").chmod(0o400)
    got = _run(prefix, home, [["check"], *READERS, *WRITERS])
    assert "home: not writable" in _ok(got["check"])
    assert "AAPL" in _ok(got["watch list"])
    _ok(got["status"])
    for w in WRITERS:
        _one_error(got[" ".join(w)], "the home is not writable", "assistant.db is read-only")


def test_a_directory_in_the_databases_place_is_one_line_everywhere(tmp_path, capsys):
    home = tmp_path / "home"
    (home / "assistant.db").mkdir(parents=True)
    for argv in [
        *READERS,
        ["backup", str(tmp_path / "c.db")],
        ["watch", "add", "MSFT"],
        ["predict"],
    ]:
        assert main(["--home", str(home), *argv]) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "assistant.db is a directory, not a database file" in err
    assert main(["--home", str(home), "check"]) == 1
    out = capsys.readouterr()
    assert "is a directory" in out.out and "nothing is damaged" in out.err
    assert "aside" not in out.err.replace("move it aside", "")
    assert (home / "assistant.db").is_dir()


@pytest.mark.slow
def test_the_daemon_refuses_a_directory_in_the_databases_place_in_one_line(tmp_path):
    home = tmp_path / "home"
    (home / "assistant.db").mkdir(parents=True)
    got = _run([], home, [["daemon", "--replay"]])
    _one_error(got["daemon --replay"], "is a directory, not a database file")


def test_check_warns_about_a_config_with_secrets_others_can_read(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    path = home / "config.toml"
    path.write_text('[alerts]\nurls = ["json://alice:S3cret@example.com/hook?token=T0ken"]\n')
    path.chmod(0o644)
    assert main(["--home", str(home), "check"]) == 0
    out = capsys.readouterr().out
    assert f"settings: warning: {path} holds secrets" in out and "mode 0644" in out
    assert f"chmod 600 {path}" in out and "S3cret" not in out and "T0ken" not in out
    path.chmod(0o600)
    assert main(["--home", str(home), "check"]) == 0
    assert "warning" not in capsys.readouterr().out
