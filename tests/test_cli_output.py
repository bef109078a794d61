"""The CLI's tables and progress bars (rich) and its shell completion scripts (shtab),
as a user meets them: real subprocesses, a real bash."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.cli.common import table
from assistant.cli.modeling import Bars
from tests.cli_fixture import cli

NOHOME = Path("/nonexistent-home")  # completion never opens a home


def test_a_table_is_aligned_plain_text_and_shows_brackets_as_they_are() -> None:
    text = table([["[paper]", 1.5, None], ["AAPL", "x", "long cell"]], ["name", "n", "note"])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "n", "note"]
    assert set(lines[1]) == {"-"}
    assert lines[2].split() == ["[paper]", "1.5"]  # markup is not interpreted
    assert lines[3].index("x") == lines[2].index("1.5") == lines[0].index(" n ") + 1
    assert "\x1b" not in text


def test_a_piped_listing_has_no_escape_codes(tmp_path) -> None:
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "AAPL").returncode == 0
    out = cli(home, "watch", "list")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and out.stdout.splitlines()[0].split()[:2] == [
        "symbol",
        "active",
    ]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_rich_bars_on_a_terminal_and_plain_lines_on_a_pipe() -> None:
    plain = io.StringIO()
    bars = Bars(plain)
    bars("xgboost", 0.5, "epoch 1/2")
    bars("xgboost", 1.0, "done")
    assert plain.getvalue().splitlines() == [
        "xgboost       50% epoch 1/2",
        "xgboost      100% done",
    ]
    tty = Tty()
    bars = Bars(tty)
    bars("xgboost", 0.5, "epoch 1/2")
    bars("markov", 1.0, "done")
    bars.close()
    drawn = tty.getvalue()
    assert "xgboost" in drawn and "markov" in drawn and "50%" in drawn and "100%" in drawn
    assert "━" in drawn  # rich's bar, not a hand-drawn one


def test_completion_scripts_for_each_shell_and_bash_completes_commands_and_flags() -> None:
    for shell in ("bash", "zsh", "fish", "tcsh"):
        out = cli(NOHOME, "completion", shell)
        assert out.returncode == 0, out.stderr
        assert "paper" in out.stdout and "backtest" in out.stdout
    bad = cli(NOHOME, "completion", "csh")
    assert bad.returncode == 2 and "invalid choice: 'csh'" in bad.stderr
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash here")
    script = cli(NOHOME, "completion", "bash").stdout

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (
            f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
            f'COMP_LINE="{line}"; COMP_POINT={len(line)}; _shtab_assistant; '
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run([bash, "-c", probe], capture_output=True, text=True, timeout=30)
        return done.stdout.split()

    assert complete("assistant", "pap") == ["paper"]
    assert complete("assistant", "backtest", "--pa") == ["--paper", "--paper-model"]
    assert complete("assistant", "completion", "f") == ["fish"]
