"""Shared fixtures: tiny datasets written on the fly in the official on-disk formats."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

import tensorflow as tf

from export import __main__ as export_cli
from tfcolor import train
from tfcolor.models import restoring
from tfcolor.data import cifar
from tfcolor.models import inference

TINY_TRAIN_ARGS = ["--base-filters", "8", "--depth", "2", "--batch-size", "8", "--demo-patches", "64"]


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


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    """`cifar-10-batches-py/` with 5 train batches of 6 images (one grayscale) and a test batch of 4."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for index, name in enumerate(cifar.TRAIN_BATCHES):
        images = photo_crops(6, seed=index)
        images[0] = images[0].mean(axis=-1, keepdims=True).astype(np.uint8)  # grayscale: skipped
        write_cifar_batch(root / name, images)
    write_cifar_batch(root / "test_batch", photo_crops(4, seed=99))
    return root


def save_image(path: Path, array: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.fixture
def places_dir(tmp_path: Path) -> Path:
    """Places365 layout: data_256/<letter>/<class>/*.jpg (10 colour, 1 gray, 1 corrupt) and val_256/*.jpg (4)."""
    root = tmp_path / "places365"
    crops = photo_crops(14, size=64)
    for index in range(10):
        category = ("a/abbey", "b/beach")[index % 2]
        save_image(root / "data_256" / category / f"{index:08d}.jpg", crops[index], quality=95)
    save_image(root / "data_256/g/gray/00000001.jpg", crops[0].mean(axis=-1).astype(np.uint8))
    (root / "data_256/c/corrupt").mkdir(parents=True)
    (root / "data_256/c/corrupt/00000001.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    for index in range(4):
        save_image(root / "val_256" / f"Places365_val_{index + 1:08d}.jpg", crops[10 + index], quality=95)
    return root


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run of 3 steps of a tiny GAN on the embedded photos, shared by the colorize/export/serving tests."""
    run = tmp_path_factory.mktemp("trained") / "run"
    assert train.main([*TINY_TRAIN_ARGS, "--checkpoints-path", str(run), "--max-steps", "3", "--sample", "0"]) == 0
    return run


@pytest.fixture(scope="session")
def exported_base(trained_run, tmp_path_factory) -> Path:
    """`trained_run` exported once (version 1) with `python -m export`, shared by export and serving tests.

    Read-only: a test that adds versions copies it first (`copy_exported`)."""
    base = tmp_path_factory.mktemp("models") / "tfcolor"
    assert export_cli.main(["--run", str(trained_run), "--output", str(base)]) == 0
    return base


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
