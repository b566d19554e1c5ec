"""SIGTERM and SIGINT while training: the batch finishes, a checkpoint of that step is written, the
process exits with `EXIT_PREEMPTED`, and a rerun resumes there. Real processes, real signals."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import TINY_TRAIN_ARGS
from tests.training.test_train import latest_step
from tfcolor import train
from tfcolor.training.preemption import EXIT_PREEMPTED

pytestmark = pytest.mark.slow
STOPPED = re.compile(r"stopped: (SIG\w+): stopped at step (\d+) after finishing its batch; saved (\S+); run the same")


def wait_for(path, text: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}: {path.read_text(errors='replace')[-2000:]}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_the_step_reached_and_a_rerun_resumes_there(tmp_path, capsys, stop_signal):
    run_dir = tmp_path / "run"
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    command = [sys.executable, "-m", "tfcolor.train", *TINY_TRAIN_ARGS, "--checkpoints-path", str(run_dir),
               "--epochs", "1000", "--save-interval", "100000"]
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        try:
            wait_for(out, "Epoch 2/", process)  # an epoch of 8 batches done
            process.send_signal(stop_signal)
            code = process.wait(timeout=120)
        finally:
            process.kill()
    message = STOPPED.search(err.read_text())
    assert code == EXIT_PREEMPTED and message, err.read_text()[-2000:]
    step = int(message.group(2))
    assert message.group(1) == stop_signal.name and step >= 8
    assert latest_step(run_dir) == step and message.group(3).endswith(f"ckpt-{step}")
    assert train.main(["--checkpoints-path", str(run_dir), "--max-steps", str(step + 2)]) == 0
    assert f"Resuming from step {step}" in capsys.readouterr().out
    assert latest_step(run_dir) == step + 2


SECOND_SIGNAL = """
import os, signal, time
import tensorflow as tf
from tfcolor.training.preemption import StopOnSignal
stopper = StopOnSignal(tf.distribute.get_strategy())
catching = stopper.catching()  # kept: a dropped generator would restore the handlers
catching.__enter__()
os.kill(os.getpid(), signal.SIGINT)
time.sleep(0.1)
assert stopper.received == signal.SIGINT, stopper.received
print("first signal noted", flush=True)
os.kill(os.getpid(), signal.SIGINT)
time.sleep(5)
print("still running")
"""


def test_a_second_signal_exits_at_once():
    result = subprocess.run([sys.executable, "-c", SECOND_SIGNAL], capture_output=True, text=True, timeout=120)
    assert result.returncode == 128 + signal.SIGINT, result.stderr[-2000:]
    assert "first signal noted" in result.stdout and "still running" not in result.stdout
