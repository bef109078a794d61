"""A command's output redirected somewhere that refuses it: onto a full disk (`/dev/full`),
past the file-size limit (`ulimit -f`). The failure is the output's, said in one line with
a non-zero exit; never blamed on the home's disk, never exit 0 over an empty export.

Real processes: the point is the process's own stdout, buffered as Python buffers a file
(PYTHONUNBUFFERED unset, as in a user's shell) and flushed when the command ends.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_fixture import run_cli

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("assistant")  # the console script a user types

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full"),
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONUNBUFFERED", "ASSISTANT_HOME"):
        env.pop(name, None)
    return env


def _assistant(home: Path, *args: str, stdout, limit: int | None = None):
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "assistant"]

    def fsize_limit() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [*cmd, "--home", str(home), *args],
        cwd=ROOT,
        env=_env(),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=fsize_limit,
    )


def _one_output_error(err: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: could not write the output to stdout"), err
    assert "nothing is wrong with the home" in err, err
    # not the home's disk, no interpreter noise
    assert "disk holding" not in err and "a file in" not in err, err
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_an_export_onto_a_full_disk_is_an_error_not_exit_0(tmp_path: Path) -> None:
    """`assistant predictions --format csv > /mnt/full/calls.csv` ended in Python's
    "Exception ignored ... OSError" and exit 120 (an export of a few KB of calls, run by the
    console script, even exited 0 with the file empty)."""
    home = tmp_path / "home"
    assert run_cli(home, "watch", "add", "AAPL").returncode == 0
    with open("/dev/full", "w") as full:
        done = _assistant(home, "predictions", "--format", "csv", stdout=full)
    assert done.returncode == 1, done.stderr
    _one_output_error(done.stderr)
    assert "No space left on device" in done.stderr and "full disk" in done.stderr


def test_a_write_command_onto_a_full_disk_does_not_blame_the_home(tmp_path: Path) -> None:
    """`watch add MSFT > /dev/full` said "the disk holding HOME is full" though the add was
    stored: the user would free space on the wrong disk and think nothing was added."""
    home = tmp_path / "home"
    assert run_cli(home, "watch", "add", "AAPL").returncode == 0
    with open("/dev/full", "w") as full:
        done = _assistant(home, "watch", "add", "MSFT", stdout=full)
    assert done.returncode == 1, done.stderr
    _one_output_error(done.stderr)
    listed = run_cli(home, "watch", "list")
    assert listed.returncode == 0 and "MSFT" in listed.stdout, listed


def test_output_past_the_file_size_limit_names_the_limit_not_the_home(tmp_path: Path) -> None:
    """Under `ulimit -f`, output bigger than the limit said a file in the home had reached
    it (the home's files were well under it)."""
    home = tmp_path / "home"
    assert run_cli(home, "watch", "add", "AAPL").returncode == 0
    out = tmp_path / "completion.sh"
    with open(out, "w") as file:
        # the bash script is ~13 KB; a fresh home's files are read, not grown, under the limit
        done = _assistant(home, "completion", "bash", stdout=file, limit=8 * 1024)
    assert done.returncode == 1, done.stderr
    _one_output_error(done.stderr)
    assert "File too large" in done.stderr and "ulimit -f" in done.stderr
    assert out.stat().st_size <= 8 * 1024


def test_a_reader_that_left_before_the_output_is_a_quiet_exit_0(tmp_path: Path) -> None:
    """`assistant watch list | grep -q AAPL` (grep leaves at its first match) or `| true`:
    output that fits Python's buffer met the closed pipe only in the interpreter's own last
    flush: "Exception ignored ... BrokenPipeError" and exit 120 (a failure under `set -o
    pipefail`)."""
    home = tmp_path / "home"
    assert run_cli(home, "watch", "add", "AAPL").returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        done = _assistant(home, "watch", "list", stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
