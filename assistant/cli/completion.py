"""CLI command `completion SHELL`: a tab-completion script for bash, zsh, fish or tcsh,
generated from the command line's own parser by shtab (so it never goes stale)."""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh", "fish", "tcsh")
INSTALL = {
    "bash": "assistant completion bash > ~/.local/share/bash-completion/completions/assistant",
    "zsh": "assistant completion zsh > ~/.zfunc/_assistant  (with fpath+=(~/.zfunc) in ~/.zshrc)",
    "fish": "assistant completion fish > ~/.config/fish/completions/assistant.fish",
    "tcsh": "assistant completion tcsh > ~/.assistant.tcsh; echo 'source ~/.assistant.tcsh' >> ~/.tcshrc",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish, tcsh)",
        description="Print a tab-completion script for the shell to stdout. Install it once: "
        + "; ".join(INSTALL.values()),
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    from assistant.cli import build_parser

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return 0
