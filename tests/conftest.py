"""Shared fixtures: tiny datasets written on the fly in the official on-disk formats, one trained and
exported run for the tests that only read them, and a headless Chromium for the page tests (helpers
they use: `tests.helpers`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from export import __main__ as export_cli
from tests.helpers import CHROMIUM, CHROMIUM_FLAGS, TINY_TRAIN_ARGS, photo_crops, save_image, write_cifar_batch
from tfcolor import train
from tfcolor.data import cifar


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


@pytest.fixture(scope="module")
def browser():
    """The system's Chromium, headless, for the tests of one module (the Turing test's page, the dev server's page);
    closed after them, so that no other module runs beside Playwright's event loop."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
