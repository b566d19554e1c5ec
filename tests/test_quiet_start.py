"""A quiet start: no error-level TensorFlow line in a normal run, informational lines off unless the user
asks for them (their `TF_CPP_MIN_LOG_LEVEL` wins), and no CUDA line where there is no GPU."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.helpers import TINY_TRAIN_ARGS

pytestmark = pytest.mark.slow
# TensorFlow's C++ log lines: a severity letter, then MMDD (e.g. `E0000 00:00:...`, `I1201 11:22:...`).
ERROR_LINE = re.compile(r"^[EF]\d{4} ", re.MULTILINE)
NO_GPU = not tf.config.list_physical_devices("GPU")


def run(arguments: list[str], **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=300,
                            env={**env, **environment})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def info_sources(output: str) -> set[str]:
    """The C++ files TensorFlow's informational lines come from (`I0000 ... port.cc:153] ...` -> port.cc)."""
    return set(re.findall(r"^I\d{4} [^\]]* ([\w.]+):\d+\]", output, re.MULTILINE))


def test_training_prints_no_error_line_and_no_cuda_line(tmp_path):
    output = run(["-m", "tfcolor.train", *TINY_TRAIN_ARGS, "--max-steps", "2", "--checkpoints-path", str(tmp_path / "r")])
    assert "Checkpoints:" in output and not ERROR_LINE.findall(output), output
    # Left: oneDNN's own "custom operations are on" (port.cc), logged before TensorFlow reads its log level.
    assert info_sources(output) <= {"port.cc"}, output
    if NO_GPU:
        assert "cuda" not in output.lower(), output


def test_the_users_log_level_wins():
    quiet = run(["-c", "import tfcolor, tensorflow as tf; tf.constant(1.0) + 1"])
    asked = run(["-c", "import tfcolor, tensorflow as tf; tf.constant(1.0) + 1"], TF_CPP_MIN_LOG_LEVEL="0")
    assert "cpu_feature_guard.cc" in info_sources(asked) and "cpu_feature_guard.cc" not in info_sources(quiet)


SERVE_ONCE = """
import sys
import tfcolor, tensorflow as tf
signature = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
photo = tf.io.encode_png(tf.cast(tf.random.stateless_uniform((40, 60, 3), (1, 2)) * 255, tf.uint8))
print(signature(image_bytes=tf.stack([photo]))["image_size"].numpy().tolist())
"""


def test_serving_the_export_prints_no_error_line(exported_base):
    output = run(["-c", SERVE_ONCE, str(exported_base / "1")])
    assert "[[40, 60]]" in output and not ERROR_LINE.findall(output), output
