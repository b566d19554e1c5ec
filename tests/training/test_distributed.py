"""tf.distribute on CPU: two replicas in one process, and two worker processes on 127.0.0.1, against one device.

Tolerances (float32, 4 steps, global batch 16, dropout off) follow from what is compared:
- Losses and continuous metrics: within a relative 2e-4 (measured 3e-5; only the order of summation
  differs). Without synchronized batch-norm, or with the L1 term not averaged over the global batch,
  they differ by 5e-4 and more.
- Pixel accuracies are counts of pixels whose error is under a threshold: a last-bit difference
  between kernels (another CPU, another summation order) moves a pixel across it. They are compared
  in pixels: at most `FLIPPED_PIXELS` of the pixels an epoch counts may change sides (measured: 11 of
  32768 on an AVX2-only CPU, the relative 1.16e-3 that a relative tolerance of 1e-3 refused).
- Weights: mean |difference| below 1e-4 (measured 1.2e-5, against a mean |weight| of 0.02) and every
  weight within 5e-3: Adam moves a weight by up to its learning rate (3e-4) an update whatever the
  gradient's size, so a gradient that rounding flips from +1e-9 to -1e-9 moves it by twice that, for
  each of the run's 8 generator updates.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import photo_crops, save_image
from tfcolor import config, train
from tfcolor.config import run_layout
from tfcolor.data import pipelines
from tfcolor.training import checkpoints
from tfcolor.training.preemption import EXIT_PREEMPTED

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
RUN_ARGS = ["--max-steps", "4", "--epochs", "2", "--log", "--sample", "false"]
BATCH, STEPS_PER_EPOCH, PIXELS_PER_IMAGE = 16, 2, 32 * 32
VALIDATION_IMAGES = 6 * 8  # the demo's held-back patches: 8 from each of its 6 photos
# Pixels an epoch's accuracy counts, and how many of them may cross the threshold between two runs.
COUNTED_PIXELS = {"accuracy": BATCH * STEPS_PER_EPOCH * PIXELS_PER_IMAGE,
                  "val_accuracy": VALIDATION_IMAGES * PIXELS_PER_IMAGE}
FLIPPED_PIXELS = 64


@pytest.fixture(scope="module")
def run_config(tmp_path_factory) -> Path:
    """A tiny GAN on the embedded photos, float32, dropout off (so replicas draw no masks), constant lr."""
    path = tmp_path_factory.mktemp("distributed") / "config.json"
    resolved = config.resolve({"base_filters": 8, "depth": 2, "batch_size": 16, "demo_patches": 32,
                               "generator_dropout": (0.0, 0.0), "lr_decay": False, "precision": "float32"})
    path.write_text(resolved.to_json())
    return path


@pytest.fixture(scope="module")
def one_device_run(run_config, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("one-device") / "run"
    assert train.main(["--config", str(run_config), "--checkpoints-path", str(run), "--strategy", "default",
                       *RUN_ARGS]) == 0
    return run


def epoch_logs(run: Path) -> list[dict[str, float]]:
    with open(run / run_layout.CSV_LOG_FILE) as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


def assert_same_training(run: Path, reference: Path) -> None:
    logs, expected = epoch_logs(run), epoch_logs(reference)
    assert len(logs) == len(expected) == 2
    for row, row_expected in zip(logs, expected):
        assert set(row) == set(row_expected)
        for key, value in row_expected.items():
            if key in COUNTED_PIXELS:
                np.testing.assert_allclose(row[key], value, rtol=0, atol=FLIPPED_PIXELS / COUNTED_PIXELS[key], err_msg=key)
            else:
                np.testing.assert_allclose(row[key], value, rtol=2e-4, err_msg=key)
    weights = [np.concatenate([w.numpy().ravel() for w in (*m.generator.weights, *m.discriminator.weights)])
               for m in (checkpoints.load_trained_model(run)[1], checkpoints.load_trained_model(reference)[1])]
    difference = np.abs(weights[0] - weights[1])
    assert difference.mean() < 1e-4 and difference.max() < 5e-3, (difference.mean(), difference.max())


def test_two_replicas_in_one_process_train_as_one_device(run_config, one_device_run, tmp_path):
    run = tmp_path / "mirrored"
    result = subprocess.run([sys.executable, str(HERE / "two_cpu_devices.py"), "--config", str(run_config),
                             "--checkpoints-path", str(run), "--strategy", "mirrored", *RUN_ARGS],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas of 8" in result.stdout
    assert_same_training(run, one_device_run)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def start_workers(run_config: Path, run: Path, scratch: Path, extra: list[str]) -> list[subprocess.Popen]:
    """Two worker processes of one cluster on 127.0.0.1; worker 0 is the chief. Each gets its own TMPDIR
    under `scratch`, so what it leaves behind can be checked."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        tmp = scratch / f"tmp{index}"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmp),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        command = [sys.executable, "-m", "tfcolor.train", "--config", str(run_config), "--checkpoints-path",
                   str(run), "--strategy", "multi-worker", "--sample", "false", *extra]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, start_new_session=True))
    return processes


def finish(processes: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str, str]]:
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
        results.append((process.returncode, out, err))
    return results


def test_two_worker_processes_train_as_one_device_and_only_the_chief_writes(run_config, one_device_run, tmp_path):
    run = tmp_path / "cluster-run"
    results = finish(start_workers(run_config, run, tmp_path, ["--max-steps", "4", "--epochs", "2", "--log"]))
    assert [code for code, _, _ in results] == [0, 0], [err[-3000:] for _, _, err in results]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.json", "log.csv", "logs"]
    assert tf.train.latest_checkpoint(str(run / run_layout.CHECKPOINTS_DIR)).endswith("ckpt-4")
    assert list((tmp_path / "tmp1").iterdir()) == []  # the other worker's checkpoints went, with their folder
    assert_same_training(run, one_device_run)


def latest_step(run: Path) -> int:
    latest = tf.train.latest_checkpoint(str(run / run_layout.CHECKPOINTS_DIR))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def test_a_killed_worker_then_a_restarted_cluster_resumes_at_the_right_step(run_config, tmp_path):
    run = tmp_path / "cluster-run"
    chief, other = start_workers(run_config, run, tmp_path, ["--max-steps", "1000", "--save-interval", "2"])
    deadline = time.time() + 240
    while latest_step(run) < 2 and time.time() < deadline and chief.poll() is None:
        time.sleep(0.5)
    os.killpg(other.pid, signal.SIGKILL)
    finish([chief], timeout=5)  # it cannot go on without its peer; killed if it still waits for it
    finish([other])
    saved = latest_step(run)
    assert saved >= 2 and saved % 2 == 0

    results = finish(start_workers(run_config, run, tmp_path, ["--max-steps", str(saved + 2)]))
    assert [code for code, _, _ in results] == [0, 0], [err[-3000:] for _, _, err in results]
    assert all(f"Resuming from step {saved}" in out for _, out, _ in results)
    assert latest_step(run) == saved + 2


def photo_folder(root: Path, count: int) -> Path:
    for index, crop in enumerate(photo_crops(count, size=40, seed=7)):
        save_image(root / "train" / f"{index:02d}.jpg", crop, quality=95)
    save_image(root / "val" / "held.jpg", photo_crops(1, size=40, seed=8)[0], quality=95)
    return root


def test_files_are_shared_out_by_worker_each_with_its_own_order(tmp_path):
    folder = photo_folder(tmp_path / "photos", 18)
    data_config = config.DataConfig(dataset="folder", dataset_path=str(folder), image_size=32)
    pipes = pipelines.make_pipelines(data_config, batch_size=8, seed=3, validate=False, workers=2)
    assert pipes.shards_by_file and pipes.steps_per_epoch == 2  # 18 // 8, the same for both workers
    streams = [[lab.numpy() for lab, _ in pipes.train_from(0, worker).take(2)] for worker in (0, 1)]
    assert all(batch.shape == (4, 32, 32, 1) for stream in streams for batch in stream)  # half the global batch
    seen = [{batch[i].tobytes() for batch in stream for i in range(4)} for stream in streams]
    assert len(seen[0]) == len(seen[1]) == 8 and not seen[0] & seen[1]  # disjoint slices of the files
    resumed = [lab.numpy() for lab, _ in pipes.train_from(1, 1).take(1)]
    np.testing.assert_array_equal(resumed[0], streams[1][1])  # worker 1's batch 1, whichever step it starts at


def test_two_workers_train_on_a_folder_reading_their_own_files(tmp_path):
    folder = photo_folder(tmp_path / "photos", 18)
    folder_config = tmp_path / "folder.json"
    folder_config.write_text(config.resolve({"dataset": "folder", "dataset_path": str(folder), "image_size": 32,
                                             "base_filters": 8, "depth": 2, "batch_size": 8,
                                             "precision": "float32"}).to_json())
    run = tmp_path / "cluster-run"
    results = finish(start_workers(folder_config, run, tmp_path, ["--max-steps", "3"]))
    assert [code for code, _, _ in results] == [0, 0], [err[-3000:] for _, _, err in results]
    assert "2 replicas of 4" in results[0][1]
    assert latest_step(run) == 3


def test_a_signalled_worker_stops_the_cluster_at_one_saved_step(run_config, tmp_path):
    run = tmp_path / "cluster-run"
    chief, other = start_workers(run_config, run, tmp_path, ["--epochs", "100000", "--save-interval", "100000",
                                                             "--log-interval", "1"])  # a constant lr, logged
    deadline = time.time() + 240
    # The chief's TensorBoard file: both workers are in train(), whose handlers stop them at a batch's end.
    while not list((run / "logs" / "train").glob("events.out.tfevents.*")) and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    other.send_signal(signal.SIGTERM)  # the non-chief: its peer has to stop with it to save together
    results = finish([chief, other], timeout=120)
    assert [code for code, _, _ in results] == [EXIT_PREEMPTED, EXIT_PREEMPTED], [err[-3000:] for _, _, err in results]
    saved = latest_step(run)
    assert saved > 0 and all(f"stopped at step {saved}" in err for _, _, err in results)
    assert list((tmp_path / "tmp1").iterdir()) == []  # the other worker's scratch checkpoints went too

    results = finish(start_workers(run_config, run, tmp_path, ["--max-steps", str(saved + 2)]))
    assert [code for code, _, _ in results] == [0, 0], [err[-3000:] for _, _, err in results]
    assert all(f"Resuming from step {saved}" in out for _, out, _ in results)
