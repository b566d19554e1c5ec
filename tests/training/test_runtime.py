"""Runtime choices: oneDNN on by default at every entry point, precision policies, GPU selection."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.helpers import ROOT
from tfcolor.config import ConfigError
from tfcolor.training import runtime

PROBE = ("import importlib, os, sys; importlib.import_module(sys.argv[1]); "
         "from tensorflow.python.util import _pywrap_util_port as port; "
         "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")
# Python runs a package's __init__ before any of its modules, and each of the three packages' __init__
# imports tfcolor (which sets the variable) first: one entry point per package proves every entry point
# of that package, and the static check below proves each __init__ does it first.
ENTRY_POINTS = ["tfcolor.train", "export.__main__", "serving.devserver"]
PACKAGE_ROOTS = ("tfcolor", "export", "serving")


def probe(module: str, onednn: str | None) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if onednn is not None:
        environment["TF_ENABLE_ONEDNN_OPTS"] = onednn
    result = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True, env=environment,
                            cwd=ROOT, check=True)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_entry_point_runs_tensorflow_with_onednn(module):
    assert probe(module, None) == "1 True"


def test_every_package_sets_tensorflows_options_before_anything_else():
    for package in PACKAGE_ROOTS[1:]:
        body = ast.parse((ROOT / package / "__init__.py").read_text()).body
        first_import = next(node for node in body if isinstance(node, (ast.Import, ast.ImportFrom)))
        assert isinstance(first_import, ast.Import) and first_import.names[0].name == "tfcolor", package
    source = (ROOT / "tfcolor" / "__init__.py").read_text()
    assert 'os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")' in source and "import tensorflow" not in source


def test_a_users_own_onednn_setting_wins():
    assert probe("tfcolor.train", "0") == "0 False"


def test_notebooks_and_benchmarks_import_tfcolor_before_tensorflow():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert first.source.startswith("import tfcolor"), f"{path.name}: the first cell must import tfcolor first"
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))  # the package's modules, run as `python -m benchmarks.X`
    assert {"train_throughput.py", "tfcolor_step.py", "load_test.py", "machine.py"} <= {p.name for p in scripts}
    for path in scripts:
        if path.name == "peer_pix2pix.py":  # the peer runs in TensorFlow's default environment on purpose
            continue
        imports = [node for node in ast.parse(path.read_text()).body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = [alias.name for node in imports for alias in node.names] + [
            node.module for node in imports if isinstance(node, ast.ImportFrom) and node.module]
        heavy = [i for i, name in enumerate(names) if name.split(".")[0] in ("tensorflow", "keras", "numpy")]
        if heavy:
            assert "tfcolor" in names[: min(heavy)], f"{path.name} imports {names[min(heavy)]} before tfcolor"


def test_explicit_precisions_pass_through_and_auto_picks_a_known_policy():
    for precision in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert runtime.resolve_precision(precision) == precision
    assert runtime.resolve_precision("auto") in ("float32", "mixed_bfloat16", "mixed_float16")


def test_auto_precision_on_this_cpu_follows_its_bfloat16_support():
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    has_bf16 = " avx512_bf16" in flags or " amx_bf16" in flags
    expected = "mixed_bfloat16" if has_bf16 and runtime.onednn_enabled() else "float32"
    assert runtime.resolve_precision("auto") == expected


def test_gpu_ids_naming_a_missing_gpu_is_an_error():
    with pytest.raises(ConfigError, match="no GPU 7"):
        runtime.select_gpus("7")
    with pytest.raises(ConfigError, match="comma-separated"):
        runtime.select_gpus("first")
    runtime.select_gpus("-1")  # CPU only is always possible


def test_xla_auto_means_on_a_gpu_only():
    assert runtime.use_xla("off") is False and runtime.use_xla("on") is True
    assert runtime.use_xla("auto") == bool(__import__("tensorflow").config.list_physical_devices("GPU"))
