"""Output in a terminal of 80 columns: a table leaves out columns (and says which) rather
than running past the edge, prose wraps at words with its continuation indented; a pipe
or a file gets every column and whole lines, as scripts read them."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from assistant.cli.common import table, wrap_line
from tests.daemon_fixture import ROOT, env

HEADERS = ["symbol", "h", "as of", "call", "80% range", "model"]
ROWS = [["AAPL", 1, "2012-07-11", "UP", "76.33..79.27", "ensemble-v1-with-a-long-name"]]


def test_a_table_too_wide_leaves_out_the_drop_columns_first_and_says_so():
    full = table(ROWS, HEADERS, width=None)  # (not a terminal under pytest: every column)
    assert "ensemble-v1-with-a-long-name" in full and "left out" not in full
    narrow = table(ROWS, HEADERS, drop=("as of",), width=40)
    lines = narrow.splitlines()
    assert max(len(line) for line in lines) <= 40, narrow
    assert lines[0].split() == ["symbol", "h", "call", "80%", "range"]
    assert "76.33..79.27" in lines[2] and "2012-07-11" not in narrow
    said = " ".join(line.strip() for line in lines[3:])
    assert said.startswith("(2 column(s) left out to fit 40 columns: as of, model;"), said
    assert table(ROWS, HEADERS, width=200) == full  # it fits: untouched


def test_a_long_line_wraps_at_words_with_its_indent_kept():
    line = "    ranking model, h=1: IC +0.386 (Newey-West t 1.66), top-minus-bottom +1.142%"
    wrapped = wrap_line(line, 40)
    assert all(len(part) <= 40 for part in wrapped), wrapped
    assert wrapped[0].startswith("    ranking") and wrapped[1].startswith("        ")
    assert " ".join(p.strip() for p in wrapped) == line.strip()  # nothing lost, no word cut
    assert wrap_line("short", 40) == ["short"]


def _in_a_terminal(home, *args: str, columns: int = 80) -> tuple[int, str]:
    """`assistant ARGS` as a person runs it: stdout a terminal `columns` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environ = {k: v for k, v in env().items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--home", str(home), *args],
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return proc.wait(timeout=120), out.decode().replace("\r\n", "\n")


@pytest.mark.slow  # real processes under a pseudo-terminal
def test_predict_and_report_fit_an_80_column_terminal_and_pipe_whole(built_home):
    home = built_home(("watch", "add", "AAPL", "MSFT"), ("collect",))
    for day in ("2012-07-02", "2012-07-03", "2012-07-05", "2012-07-11"):
        ran = subprocess.run(
            [sys.executable, "-m", "assistant", "--home", str(home), "predict", "--as-of", day],
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
    piped = ran.stdout  # a pipe: the full table, one line per row
    assert "95% range" in piped.splitlines()[0] and "left out" not in piped
    assert max(len(line) for line in piped.splitlines()) > 80  # (else this tests nothing)
    for command in (("predict", "--as-of", "2012-07-11"), ("verify",), ("report",)):
        code, shown = _in_a_terminal(home, *command)
        assert code == 0, shown
        assert max(len(line) for line in shown.splitlines()) <= 80, (command, shown)
    code, shown = _in_a_terminal(home, "predict", "--as-of", "2012-07-11")
    head = shown.splitlines()[0].split()
    assert head[:2] == ["symbol", "sessions"] and "80%" in head and "model" not in head
    assert "left out to fit 80 columns" in shown
