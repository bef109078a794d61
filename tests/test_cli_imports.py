"""`assistant --help` answers without the heavy libraries: what the parser needs only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "sqlite_utils", "torch", "xgboost", "sklearn", "textual", "scipy")


def test_the_help_imports_no_heavy_library():
    probe = (
        "import sys, contextlib, io\n"
        "from assistant.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"--help imported {done.stdout.strip()}"
