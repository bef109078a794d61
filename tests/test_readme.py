"""The README's commands, run as a newcomer runs them.

Every command the README shows in a ```console or ```bash block is either run here, in a
fresh home (a temporary $HOME, so the default data home is new too, and no ASSISTANT_*
variable from the developer's shell), or named in SKIPPED with the reason. Blocks between
`<!-- readme-check: NAME -->` and `<!-- /readme-check -->` are run line by line from the
repository root, as typed; a `source`, `export` or `cd` line carries into the lines after
it, as in a shell. Each `$ command` is followed by the output the README shows for it:
every line shown must be printed, in that order and consecutively, where `…` on a line of
its own stands for lines left out and a line ending in ` …` for the rest of a line left
out (whitespace runs compare as one space). The commands table must name only commands
and options the parser has.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GAP = "…"

# Commands the README shows that no check here runs, each with why (compared without the
# trailing comment). The demo and the dashboard are interactive: tests/test_tui_demo.py
# and tests/test_tui_e2e.py drive them in a real terminal.
SKIPPED = {
    "bash .ci/setup && .venv/bin/assistant demo": "interactive (the demo's dashboard)",
    "bash .ci/setup && .venv/bin/python -m pytest -n 2": "the test suite itself",
    ".venv/bin/python -m pytest -n 2 -m slow": "the test suite itself",
}
CARRIED = ("source ", ". ", "export ", "cd ")  # shell state the following lines keep


@dataclass
class Step:
    command: str
    shown: list[str] = field(default_factory=list)

    @property
    def bare(self) -> str:
        return re.sub(r"\s+#.*$", "", self.command).strip()


@dataclass
class Block:
    lang: str
    check: str | None  # the readme-check section it sits in, if any
    line: int
    steps: list[Step] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """The README's ```console and ```bash blocks with their commands and shown output."""
    out: list[Block] = []
    check: str | None = None
    current: Block | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if current is None:
            marker = re.fullmatch(r"<!-- readme-check: ([\w-]+) -->", line.strip())
            if marker:
                check = marker.group(1)
            elif line.strip() == "<!-- /readme-check -->":
                check = None
            elif line.startswith("```"):
                current = Block(line[3:].strip(), check, number)
            continue
        if line.startswith("```"):
            if current.lang in ("console", "bash"):
                out.append(current)
            current = None
        elif current.lang == "console":
            if line.startswith("$ "):
                current.steps.append(Step(line[2:].strip()))
            elif line.strip() and current.steps:
                current.steps[-1].shown.append(line)
        elif current.lang == "bash" and line.strip() and not line.lstrip().startswith("#"):
            current.steps.append(Step(line.strip()))
    assert check is None and current is None, "a readme-check section or a block is not closed"
    return out


def _norm(line: str) -> str:
    return " ".join(line.split())


def _matches(shown: str, actual: str) -> bool:
    if shown.endswith(" " + GAP):
        return actual.startswith(shown[: -len(GAP)].rstrip())
    return shown == actual


def missing(shown: list[str], printed: str) -> str | None:
    """Why `printed` does not show `shown` (None when it does); see the module docstring."""
    want = [_norm(s) for s in shown if s.strip()]
    got = [_norm(s) for s in printed.splitlines() if s.strip()]
    if not want:
        return None
    segments: list[list[str]] = [[]]
    for line in want:
        if line == GAP:
            segments.append([])
        else:
            segments[-1].append(line)
    anchored_start, anchored_end = want[0] != GAP, want[-1] != GAP
    at = 0
    for index, segment in enumerate(segments):
        if not segment:
            continue
        first = index == 0 and anchored_start
        last = index == len(segments) - 1 and anchored_end
        starts = [at] if first else range(at, len(got) - len(segment) + 1)
        if last:
            starts = [s for s in starts if s == len(got) - len(segment)]
        found = next(
            (
                s
                for s in starts
                if s + len(segment) <= len(got)
                and all(_matches(w, g) for w, g in zip(segment, got[s:], strict=False))
            ),
            None,
        )
        if found is None:
            return f"not printed (from line {at + 1} on): {segment[0]!r} ..."
        at = found + len(segment)
    return None


def fresh_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ASSISTANT_", "XDG_")) and k != "VIRTUAL_ENV"
    }
    env.update(HOME=str(home), PYTHONUNBUFFERED="1")
    return env


def run_block_steps(steps: list[Step], home: Path, timeout: float = 900) -> None:
    """Run `steps` one by one in bash from the repository root with `home` as $HOME."""
    carried: list[str] = []
    for step in steps:
        if step.bare.startswith(CARRIED):
            if (
                step.bare.startswith(("source .venv/", ". .venv/"))
                and not (ROOT / ".venv" / "bin" / "activate").exists()
            ):
                pytest.skip("no .venv here (`bash .ci/setup` makes it)")
            carried.append(step.bare)
            continue
        script = "set -o pipefail\n" + "".join(f"{c}\n" for c in carried) + step.command
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=ROOT,
            env=fresh_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"$ {step.command}\nexit {done.returncode}\n{done.stdout}"
        problem = missing(step.shown, done.stdout)
        assert problem is None, f"$ {step.command}\n{problem}\nprinted:\n{done.stdout}"


def section(name: str) -> list[Step]:
    steps = [s for b in blocks(README.read_text()) if b.check == name for s in b.steps]
    assert steps, f"the README has no readme-check section {name!r}"
    return steps


# -- the parser of the README itself: it must be able to fail ------------------------------


def test_shown_output_is_matched_in_order_with_gaps_only_where_the_readme_says() -> None:
    printed = "head\nA  1\nB 2\nC 3\nSTALE: x, 3,463 sessions ago\ntail\n"
    assert missing(["head", GAP, "B 2", "C  3", GAP], printed) is None
    assert missing([GAP, "STALE: x, …", "tail"], printed) is None
    assert missing(["head", "B 2"], printed) is not None  # not consecutive
    assert missing(["A 1"], printed) is not None  # not the first line, and no gap shown
    assert missing([GAP, "C 3"], printed) is not None  # not the last line
    assert missing([GAP, "C 3", "B 2", GAP], printed) is not None  # out of order
    assert missing([GAP, "STALE: y, …", GAP], printed) is not None


def test_blocks_are_read_with_their_commands_output_and_section() -> None:
    text = (
        "<!-- readme-check: s -->\n```console\n$ echo hi   # say it\nhi\n$ true\n```\n"
        "<!-- /readme-check -->\n```bash\nls  # list\n\n# only a comment\n```\n"
        "```python\nprint()\n```\n"
    )
    got = blocks(text)
    assert [(b.lang, b.check) for b in got] == [("console", "s"), ("bash", None)]
    assert [(s.bare, s.shown) for s in got[0].steps] == [("echo hi", ["hi"]), ("true", [])]
    assert [s.bare for s in got[1].steps] == ["ls"]


# -- the README --------------------------------------------------------------------------


def test_every_command_the_readme_shows_is_run_by_a_check_or_skipped_with_a_reason() -> None:
    shown = [(b, s) for b in blocks(README.read_text()) for s in b.steps]
    unchecked = [
        f"line {b.line}: {s.bare}" for b, s in shown if b.check is None and s.bare not in SKIPPED
    ]
    assert not unchecked, "commands no test runs (add them to a readme-check section):\n" + (
        "\n".join(unchecked)
    )
    stale = set(SKIPPED) - {s.bare for _, s in shown}
    assert not stale, f"SKIPPED names commands the README no longer shows: {stale}"
    assert {b.check for b, _ in shown} >= {"quick-start", "completion"}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _words(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """The option strings and the sub-action names / positional choices under `parser`."""
    options: set[str] = set()
    names: set[str] = set()
    for action in parser._actions:
        options.update(action.option_strings)
        if action.choices and not action.option_strings:
            names.update(str(c) for c in action.choices)
    for sub in _subcommands(parser).values():
        sub_options, sub_names = _words(sub)
        options |= sub_options
        names |= sub_names
    return options, names


def test_the_commands_table_names_only_commands_and_options_the_parser_has() -> None:
    text = re.split(r"\n##+ ", README.read_text().split("\n## Commands\n", 1)[1], maxsplit=1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) >= 20
    commands = _subcommands(build_parser())
    problems = []
    for row in rows:
        cell = row.split(" | ")[0].lstrip("| ")
        spans = [s.replace("\\|", "|") for s in re.findall(r"`([^`]+)`", cell)]
        owner: str | None = None
        for span in spans:
            tokens = span.split()
            if tokens[0] in commands:
                owner, rest = tokens[0], tokens[1:]
            elif owner is not None:  # `service install` / `uninstall`: an action of the last
                rest = tokens
            else:
                problems.append(f"{span}: no such command")
                continue
            options, names = _words(commands[owner])
            for flag in re.findall(r"--[a-z][a-z-]*", span):
                if flag not in options:
                    problems.append(f"{span}: {owner} has no {flag}")
            if rest and re.fullmatch(r"[a-z|]+", rest[0]):
                for word in rest[0].split("|"):
                    if word not in names:
                        problems.append(f"{span}: {owner} has no {word!r}")
    assert not problems, "\n".join(problems)


def test_the_completion_lines_install_into_a_fresh_home(tmp_path: Path) -> None:
    run_block_steps(section("completion"), tmp_path, timeout=120)
    bash_file = tmp_path / ".local/share/bash-completion/completions/assistant"
    for path in (
        bash_file,
        tmp_path / ".zfunc/_assistant",
        tmp_path / ".config/fish/completions/assistant.fish",
    ):
        assert "backtest" in path.read_text(), path
    loaded = subprocess.run(
        ["bash", "-c", f"source {bash_file} && complete -p assistant"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0 and "assistant" in loaded.stdout, loaded.stderr


@pytest.mark.slow
def test_the_quick_start_runs_line_by_line_in_a_fresh_home_and_prints_what_it_shows(
    tmp_path: Path,
) -> None:
    steps = section("quick-start")
    assert any(s.bare.startswith("assistant train") for s in steps)
    run_block_steps(steps, tmp_path)
    # the home the README means: the platform's default one, new under this $HOME
    assert (tmp_path / ".local/share/trading-assistant/assistant.db").is_file()


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_in_the_readme_and_docs_point_to_files_and_headings_that_exist() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 5  # the README points into docs/
    broken = []
    for page in pages:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
                continue
            if anchor and file.suffix == ".md":
                body = re.sub(r"^```.*?^```", "", file.read_text(), flags=re.S | re.M)
                headings = re.findall(r"^#+ (.+)$", body, flags=re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
