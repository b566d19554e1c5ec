"""What several test modules share: tiny photos and dataset files in the official formats, copies of the
shared export, the headless Chromium the page tests drive, and the model-family harness. The fixtures that
use them live in `conftest.py`."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from skimage import data as skdata

import export
from tfcolor.config import RunConfig
from tfcolor.data import color, pipelines
from tfcolor.models import factory, inference, restoring
from tfcolor.training import checkpoints

ROOT = Path(__file__).resolve().parent.parent
SHARED_PHOTOS = ROOT.parent / "shared" / "photos"
NOT_UTF8_NAME = b"caf\xe9.jpg"  # Latin-1 bytes: not a valid UTF-8 file name
# Folder names TF-Serving skips though Python's isdigit() and int() take them: a superscript, 20 digits (beyond int64).
STRAY_VERSION_NAMES = ("²", "9" * 20)
# The system's Chromium, headless, for the tests of the web pages (the Turing test, the dev server's page).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A tiny GAN on 64 demo patches. Validation is off (its pass and its traced step are a fifth of a short
# run's time): the tests about validation turn it on.
TINY_TRAIN_ARGS = ["--base-filters", "8", "--depth", "2", "--batch-size", "8", "--demo-patches", "64",
                   "--validate", "false"]


def photo_crops(count: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Real colour crops `(count, size, size, 3)` uint8 from scikit-image's astronaut and coffee."""
    rng = np.random.default_rng(seed)
    photos = [skdata.astronaut(), skdata.coffee()]
    crops = []
    for index in range(count):
        photo = photos[index % 2]
        top = rng.integers(photo.shape[0] - size)
        left = rng.integers(photo.shape[1] - size)
        crops.append(photo[top : top + size, left : left + size])
    return np.stack(crops)


def write_cifar_batch(path: Path, images: np.ndarray) -> None:
    """A batch file exactly as the official python version lays it out (planar RGB rows, protocol 2)."""
    planar = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {
        b"batch_label": b"testing batch",
        b"labels": list(range(len(images))),
        b"data": planar,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def save_image(path: Path, array: np.ndarray, **kwargs) -> Path:
    """`array` written as an image file (format from the suffix), its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def copy_exported(exported_base: Path, destination: Path) -> Path:
    """A private copy of the shared export's base path (same model name), for tests that add versions."""
    target = destination / exported_base.name
    shutil.copytree(exported_base, target)
    return target


def keras_colorized(run_dir: Path, encoded_or_rgb) -> np.ndarray:
    """What the Keras model of `run_dir` makes of one photo (encoded bytes or uint8 RGB), as uint8 RGB."""
    config, model = restoring.load_colorizer(run_dir)
    rgb = encoded_or_rgb
    if isinstance(encoded_or_rgb, bytes):
        rgb = tf.io.decode_image(encoded_or_rgb, channels=3, expand_animations=False)
    colorized = inference.colorize_rgb(model, rgb, config.data.image_size)
    return tf.image.convert_image_dtype(colorized, tf.uint8, saturate=True).numpy()


def run_model_family_test(config: RunConfig, workdir: Path) -> None:
    """The checks every model family passes, as keras-hub's `run_vision_backbone_test` runs them: built from
    its config, one `train_step` moves the generator with finite losses, a checkpoint round trip restores
    what was saved (the training model and the generator alone), and the export serves the same colours."""
    model = factory.build_colorizer(config)
    batch = next(iter(pipelines.make_pipelines(config.data, config.train.batch_size, seed=0, validate=False).train))
    networks = [model.generator] + ([model.confidence] if model.confidence is not None else [])
    before = [[weight.numpy() for weight in network.trainable_weights] for network in networks]
    logs = model.train_step(batch)
    assert all(np.isfinite(value.numpy()).all() for value in logs.values()), logs
    for network, weights in zip(networks, before):
        assert any(not np.allclose(b, w.numpy()) for b, w in zip(weights, network.trainable_weights)), network.name
    assert int(model.trained_batches.numpy()) == 1

    l_scaled = tf.random.stateless_uniform((2, 24, 40, 1), (1, 2), -1.0, 1.0)
    expected = model.predict_color(l_scaled).numpy()
    saved = checkpoints.checkpoint_manager(model, workdir / "run").save(checkpoint_number=1)
    again = factory.build_colorizer(config)
    checkpoints.restore(again, saved)
    np.testing.assert_array_equal(again.predict_color(l_scaled).numpy(), expected)
    assert int(again.trained_batches.numpy()) == 1
    inference_model = factory.build_inference_colorizer(config)
    restoring.restore_generator(inference_model, saved)
    np.testing.assert_array_equal(inference_model.predict_color(l_scaled).numpy(), expected)

    version = export.export_model(inference_model, workdir / "models" / "family", config.data.image_size)
    served = tf.saved_model.load(str(version)).signatures["colorize_lab"](l_scaled=l_scaled)["ab_scaled"].numpy()
    expected_ab = color.scale_lab(color.to_lab(l_scaled, expected, config.data.color_space))[1].numpy()
    np.testing.assert_allclose(served, expected_ab, atol=1e-5)  # one float32 graph against another
