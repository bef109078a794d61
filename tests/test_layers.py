"""The layer rules of DESIGN.md §2, checked two ways: import-linter contracts and real imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config)], cwd=ROOT, capture_output=True, text=True
    )


def test_import_linter_contracts_hold():
    out = _lint(ROOT / "pyproject.toml")
    assert out.returncode == 0 and "0 broken" in out.stdout, out.stdout + out.stderr


def test_import_linter_fails_when_a_contract_breaks(tmp_path):
    # The check must be able to fail: a contract the code breaks (the CLI does import the
    # errors module) is reported as broken with a non-zero exit.
    config = (ROOT / "pyproject.toml").read_text() + (
        '\n[[tool.importlinter.contracts]]\nname = "planted break"\ntype = "forbidden"\n'
        'source_modules = ["assistant.cli"]\nforbidden_modules = ["assistant.errors"]\n'
    )
    (tmp_path / "pyproject.toml").write_text(config)
    out = _lint(tmp_path / "pyproject.toml")
    assert out.returncode != 0 and "planted break BROKEN" in out.stdout, out.stdout + out.stderr


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


@pytest.mark.slow
def test_collecting_the_tests_does_not_import_torch():
    # torch costs seconds to import; a test module that imports it at the top makes every
    # run (and every xdist worker) pay that before the first test. Import it in a fixture.
    code = (
        "import sys, pytest; rc = pytest.main(['--collect-only', '-q', '-p', 'no:xdist', "
        "'-m', 'slow or not slow', 'tests']); "
        "assert rc == 0, rc; assert 'torch' not in sys.modules, 'collection imported torch'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]


@pytest.mark.slow
def test_tui_process_never_imports_pandas_or_the_learners(tmp_path):
    # The real dashboard process, rendered headless once: -X importtime lists every import.
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "tui",
            "--home",
            str(tmp_path / "home"),
            "--screenshot",
            str(tmp_path / "shot.svg"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in out.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "textual" in imported  # the listing is real
    assert not imported & {"pandas", "numpy", "torch", "xgboost", "sklearn"}, imported


def test_every_models_module_sits_in_the_models_layers_contract():
    """A module outside the layers contract could import any other without a broken
    contract (models/macro.py arrived that way once)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers" and any("models.base" in layer for layer in c["layers"])
    )
    layered = {m.strip() for layer in contract["layers"] for m in layer.split("|")}
    modules = {
        f"models.{p.stem}" for p in (ROOT / "models").glob("*.py") if p.stem != "__init__"
    } | {"models.forecasters"}
    assert modules - layered == set()


@pytest.mark.slow  # real processes that train
def test_training_and_serving_the_fast_kinds_never_imports_torch(home):
    # Importing torch costs seconds (most of the demo's first training, which fits only the
    # fast kinds); only a torch kind being built, fitted or loaded may import it.
    from tests.cycle_fixture import synthetic_home
    from tests.daemon_fixture import env

    db, _ = synthetic_home(home)
    db.close()
    for args in (("train", "--models", "markov"), ("predict",)):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "assistant", "--home", str(home), *args],
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        imported = {
            line.split("|")[-1].strip().split(".")[0]
            for line in out.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert "models" in imported and "pandas" in imported  # the listing is real
        assert "torch" not in imported, args


def test_every_views_module_sits_in_the_views_layers_contract():
    """The TUI's read API (store/views/) is layered too: a module left out of its contract
    could import any other."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("containers") == ["store.views"]
    )
    layered = {m.strip() for layer in contract["layers"] for m in layer.split("|")}
    modules = {p.stem for p in (ROOT / "store" / "views").glob("*.py") if p.stem != "__init__"}
    assert modules - layered == set()
