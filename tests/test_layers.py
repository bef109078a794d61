"""The layer rules of DESIGN.md §2, checked two ways: import-linter contracts and real imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    out = subprocess.run(
        [sys.executable, "-m", "importlinter.cli", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True,
    )
    if out.returncode != 0 and "No module named" in out.stderr:
        out = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


HEADLESS = ["store.db", "store.bars", "store.commands", "assistant.cli", "models.signals"]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_modules_do_not_import_textual(module):
    code = f"import sys, {module}; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_cli_help_does_not_import_torch():
    code = (
        "import sys; from assistant.cli import build_parser; build_parser(); "
        "assert 'torch' not in sys.modules and 'xgboost' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
