"""The layout's rules hold (`.importlinter`): no import cycles, imports only downwards, a dev server
without the library; and the contracts are not vacuous: an upward import in a copy of the tree breaks them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(tree / ".importlinter")], cwd=tree,
                          env=environment, capture_output=True, text=True)


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def test_an_upward_import_and_a_cycle_break_the_contracts(tmp_path):
    for name in ("tfcolor", "export", "serving", ".importlinter"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)
    with open(tmp_path / "tfcolor" / "data" / "skips.py", "a") as module:
        module.write("\nfrom tfcolor.training import loop  # noqa\n")  # data -> training -> data
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "No import cycles, between the modules of any package or between packages BROKEN" in result.stdout
    assert "tfcolor.data is not allowed to import tfcolor.training" in result.stdout
