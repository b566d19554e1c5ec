"""End-to-end runs of `python -m tfcolor.train` on the embedded data with a tiny network."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import export
from tests.helpers import TINY_TRAIN_ARGS, photo_crops, save_image
from tfcolor import colorize, train
from tfcolor.config import run_layout
from tfcolor.models import colorizer, inference
from tfcolor.training import checkpoints

pytestmark = pytest.mark.slow
TINY = [*TINY_TRAIN_ARGS, "--log-interval", "1"]


def event_tags(log_dir: Path) -> dict[str, set[str]]:
    """Tags per sub-folder of a TensorBoard log dir, read from the real event files."""
    tags: dict[str, set[str]] = {}
    for path in log_dir.rglob("events.out.tfevents.*"):
        found = tags.setdefault(str(path.parent.relative_to(log_dir)), set())
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            found.update(value.tag for value in event.summary.value)
    return tags


def latest_step(run_dir: Path) -> int | None:
    latest = tf.train.latest_checkpoint(str(run_dir / run_layout.CHECKPOINTS_DIR))
    return int(latest.rsplit("-", 1)[1]) if latest else None


def test_training_writes_checkpoints_samples_tensorboard_and_config(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "10", "--epochs", "3",
                       "--save-interval", "4", "--sample-interval", "5", "--log", "--validate", "true"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"tensorboard --logdir {run_dir / 'logs'}" in out
    assert latest_step(run_dir) == 10
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == ["step_0000005.png", "step_0000010.png"]
    grid = tf.io.decode_png((run_dir / "samples" / "step_0000010.png").read_bytes()).numpy()
    assert grid.shape == (8 * 128, 3 * 128, 3)  # 32-px cells enlarged 4x (nearest neighbour) to be seen
    np.testing.assert_array_equal(grid[:128:4, :128:4], grid[1:128:4, 1:128:4])  # whole blocks, not blurred
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["generator_filters"] == [8, 16, 32] and config["train"]["max_steps"] == 10
    tags = event_tags(run_dir / "logs")
    assert {"batch/g_loss", "batch/d_loss", "batch/accuracy", "batch/g_lr", "batch/d_lr",
            "samples/gray_original_colorized", "_hparams_/session_start_info", "epoch_g_l1"} <= tags["train"]
    assert {"epoch_accuracy", "epoch_psnr", "epoch_auc", "epoch_l1"} <= tags["validation"]
    assert "val_accuracy" in (run_dir / "log.csv").read_text().splitlines()[0]


def test_rerun_resumes_from_saved_step_with_optimizer_state(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "4", "--save-interval", "2"]) == 0
    capsys.readouterr()
    assert train.main(["--checkpoints-path", str(run_dir), "--max-steps", "6"]) == 0
    assert "Resuming from step 4" in capsys.readouterr().out
    _, model = checkpoints.load_trained_model(run_dir)
    assert int(model.trained_batches.numpy()) == 6
    assert int(model.g_optimizer.iterations.numpy()) == 12 and int(model.d_optimizer.iterations.numpy()) == 6


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "tfcolor.train", *TINY, "--checkpoints-path", str(run_dir),
               "--epochs", "1000", "--save-interval", "3"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while (latest_step(run_dir) or 0) < 6 and time.time() < deadline and process.poll() is None:
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    saved = latest_step(run_dir)
    assert saved is not None and saved >= 6 and saved % 3 == 0
    assert train.main(["--checkpoints-path", str(run_dir), "--max-steps", str(saved + 2)]) == 0
    assert f"Resuming from step {saved}" in capsys.readouterr().out
    assert latest_step(run_dir) == saved + 2


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "2"]) == 0
    # 1e39 is a valid Python float but overflows float32: the first loss of the resumed run is inf.
    code = train.main(["--checkpoints-path", str(run_dir), "--max-steps", "6", "--l1-weight", "1e39", "--save-interval", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "NaN or infinite at step 3" in err and "ckpt-2" in err
    assert latest_step(run_dir) == 2
    _, model = checkpoints.load_trained_model(run_dir)
    assert all(np.isfinite(v.numpy()).all() for v in model.generator.trainable_variables)


def test_unet_baseline_and_rgb_colour_space_train(tmp_path):
    run_dir = tmp_path / "unet"
    assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "2", "--model", "unet",
                       "--color-space", "rgb", "--sample", "false"]) == 0
    config, model = checkpoints.load_trained_model(run_dir)
    assert config.model.model == "unet" and model.generator.output_shape[-1] == 3


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "train.epochs \\(--epochs\\): expected a positive integer, got 0"),
    (["--dataset", "imagenet"], "data.dataset \\(--dataset\\): expected one of demo, cifar10, places365, folder"),
    (["--augment", "maybe"], "expected a boolean"),
    (["--image-size", "40"], "multiple of 2\\*\\*depth = 16"),
    (["--gpu-ids", "3"], "--gpu-ids: no GPU 3"),
])
def test_bad_flags_exit_with_usage_error(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        train.main([*argv, "--checkpoints-path", str(tmp_path / "r")])
    assert exit_info.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)


def test_resuming_with_another_architecture_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "1", "--sample", "0"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--checkpoints-path", str(run_dir), "--base-filters", "16"])
    assert exit_info.value.code == 2
    assert "model.generator_filters" in capsys.readouterr().err


def test_missing_dataset_is_a_failed_run_with_a_clear_message(tmp_path, capsys):
    code = train.main(["--dataset", "cifar10", "--dataset-path", str(tmp_path / "nowhere"),
                       "--checkpoints-path", str(tmp_path / "r")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_a_folder_of_only_corrupt_images_fails_clearly(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(3):
        (photos / f"{index}.jpg").write_bytes(b"not a jpeg")
    code = train.main([*TINY, "--dataset", "folder", "--dataset-path", str(photos), "--image-size", "32",
                       "--batch-size", "1", "--checkpoints-path", str(tmp_path / "r")])
    assert code == 1
    assert "no usable training images (2 corrupt" in capsys.readouterr().err


def test_cifar10_dataset_trains_from_official_batches(tmp_path, cifar_dir):
    run_dir = tmp_path / "run"
    assert train.main([*TINY, "--dataset", "cifar10", "--dataset-path", str(cifar_dir),
                       "--checkpoints-path", str(run_dir), "--max-steps", "2"]) == 0
    assert latest_step(run_dir) == 2


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--lr-decay-steps", "--label-smoothing", "--acc-thresh", "--checkpoints-path", "--max-steps"):
        assert flag in text


def test_every_precision_trains_two_steps_and_resumes_under_the_next(tmp_path, capsys):
    run_dir = tmp_path / "run"
    for step, precision in enumerate(("float32", "mixed_bfloat16", "mixed_float16", "auto"), start=1):
        assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", str(2 * step),
                           "--precision", precision, "--sample", "0"]) == 0
        assert latest_step(run_dir) == 2 * step
    out = capsys.readouterr().out
    assert "mixed_float16" in out and "Resuming from step 6" in out
    # Inference (colorize, evaluate, export) builds the float32 model whatever the run trained in.
    config, model = checkpoints.load_trained_model(run_dir)
    assert config.train.precision == "auto"
    assert model.generator.get_layer("encoder1_conv").compute_dtype == "float32"
    assert int(model.trained_batches.numpy()) == 8
    # Two generator updates a batch, carried across precisions; float16 loss scaling may skip a few.
    assert 12 <= int(model.g_optimizer.iterations.numpy()) <= 16


def test_xla_with_mixed_precision_trains_resumes_and_exports_float32(tmp_path, capsys):
    # What `--jit-compile auto` does on a GPU (XLA, mixed_float16 with loss scaling), run on the CPU.
    # Started without XLA (checkpoints are the same either way), so XLA compiles the step once.
    run_dir = tmp_path / "run"
    for steps, jit, precision in ((2, "off", "float32"), (4, "on", "mixed_float16")):
        assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", str(steps), "--sample", "0",
                           "--jit-compile", jit, "--precision", precision]) == 0
        assert latest_step(run_dir) == steps
    out = capsys.readouterr().out
    assert "mixed_float16, XLA" in out and "Resuming from step 2" in out
    version = export.export_run(run_dir, tmp_path / "models" / "tfcolor")
    signature = tf.saved_model.load(str(version)).signatures["colorize_lab"]
    ab = signature(l_scaled=tf.zeros((1, 32, 32, 1)))["ab_scaled"]
    assert ab.dtype == tf.float32 and bool(tf.reduce_all(tf.math.is_finite(ab)))


def test_moving_average_is_what_colorize_and_export_use_and_survives_resuming(tmp_path):
    run_dir = tmp_path / "run"
    assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "3", "--ema-decay", "0.9",
                       "--lr", "0.002", "--sample", "0"]) == 0
    _, model = checkpoints.load_trained_model(run_dir)
    assert model.inference_generator is model.ema_generator
    average = [w.numpy() for w in model.ema_generator.weights]
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(average, model.generator.weights))

    l_scaled = tf.random.uniform((1, 32, 48, 1), -1, 1, seed=3)
    from_average = model.predict_color(l_scaled).numpy()
    from_weights = colorizer.Colorizer(model.generator, size_multiple=model.size_multiple).predict_color(l_scaled).numpy()
    gap = np.abs(from_average - from_weights).max()
    assert gap > 1e-4
    version = export.export_run(run_dir, tmp_path / "models" / "tfcolor")
    exported = tf.saved_model.load(str(version)).signatures["colorize_lab"](l_scaled=l_scaled)["ab_scaled"].numpy()
    assert np.abs(exported - from_average).max() < gap / 100  # the average's colours, not the weights

    photo = photo_crops(1, size=48)[0]
    save_image(tmp_path / "in" / "photo.png", photo)
    colorize.colorize_paths(run_dir, tmp_path / "in", tmp_path / "out")
    written = tf.io.decode_png((tmp_path / "out" / "photo.png").read_bytes()).numpy()
    expected = tf.image.convert_image_dtype(inference.colorize_rgb(model, photo, 32), tf.uint8, saturate=True).numpy()
    np.testing.assert_array_equal(written, expected)

    # Resuming restores the average as saved (it is not restarted from the weights), then keeps moving it.
    resumed = checkpoints.load_trained_model(run_dir)[1]
    for saved, restored in zip(average, resumed.ema_generator.weights):
        np.testing.assert_array_equal(saved, restored.numpy())
    assert train.main(["--checkpoints-path", str(run_dir), "--max-steps", "5"]) == 0
    _, further = checkpoints.load_trained_model(run_dir)
    assert int(further.trained_batches.numpy()) == 5 and further.ema_decay == 0.9
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(average, further.ema_generator.weights))


def test_a_run_without_an_average_resumes_with_one_started_from_its_weights(tmp_path):
    run_dir = tmp_path / "run"
    assert train.main([*TINY, "--checkpoints-path", str(run_dir), "--max-steps", "2", "--sample", "0"]) == 0
    assert train.main(["--checkpoints-path", str(run_dir), "--max-steps", "3", "--ema-decay", "0.99"]) == 0
    _, model = checkpoints.load_trained_model(run_dir)
    assert model.ema_generator is not None and int(model.trained_batches.numpy()) == 3


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    # The demo's defaults (moving average, crops), 8 batches an epoch: interrupted inside the first
    # epoch, resumed across into the second. Data, crops, dropout masks and every state come back.
    settings = [*TINY, "--ema-decay", "0.9", "--sample", "0"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train.main([*settings, "--checkpoints-path", str(straight), "--max-steps", "11"]) == 0
    assert train.main([*settings, "--checkpoints-path", str(resumed), "--max-steps", "3"]) == 0
    assert train.main(["--checkpoints-path", str(resumed), "--max-steps", "11"]) == 0
    _, one = checkpoints.load_trained_model(straight)
    _, other = checkpoints.load_trained_model(resumed)
    for network in ("generator", "discriminator", "ema_generator"):
        for a, b in zip(getattr(one, network).weights, getattr(other, network).weights, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{network}: {a.path}")
