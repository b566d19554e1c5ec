"""Every photo left out of training is said and counted exactly, with its reason."""
from __future__ import annotations

import os
import shutil

import pytest

from serving.devserver_process import flat_png
from tests.helpers import NOT_UTF8_NAME, SHARED_PHOTOS, TINY_TRAIN_ARGS, photo_crops, save_image
from tfcolor import train
from tfcolor.config import DataConfig
from tfcolor.data import pipelines


def test_training_on_a_folder_with_bad_names_counts_each_skip_exactly(tmp_path):
    root = tmp_path / "photos"
    for index, crop in enumerate(photo_crops(10, size=48)):
        save_image(root / f"{index:02d}.jpg", crop, quality=95)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "bomb.png").write_bytes(flat_png(9000, 9000))
    shutil.copy(root / "00.jpg", os.fsencode(root) + b"/" + NOT_UTF8_NAME)
    pipes = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(root), image_size=32), 2, seed=0,
                                validate=False)
    assert pipes.stats.unlisted == {f"{root}/caf\\xe9.jpg": "its name is not valid UTF-8 (rename the file to use it)"}
    for _ in pipes.train.take(pipes.steps_per_epoch):
        pass
    counts = pipes.stats.as_dict()  # each pass over the files reads each bad one once
    assert counts["corrupt"] >= 1 and counts["oversized"] >= 1 and counts["grayscale"] == 0
    assert pipes.survey() == {"files": 11, "corrupt": 1, "oversized": 1, "grayscale": 0}  # exactly, over one pass


@pytest.mark.slow
def test_training_on_the_shared_real_photos_reports_no_corrupt_image(tmp_path, capsys):
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"{SHARED_PHOTOS} is absent (the real photos live beside the checkout)")
    pipes = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(SHARED_PHOTOS), image_size=32), 32,
                                seed=0, validate=False)
    for _ in pipes.train.take(pipes.steps_per_epoch + 2):  # into the next epoch, with reads in flight
        pass
    assert pipes.stats.as_dict()["corrupt"] == 0 and pipes.stats.as_dict()["oversized"] == 0
    assert train.main([*TINY_TRAIN_ARGS, "--dataset", "folder", "--dataset-path", str(SHARED_PHOTOS),
                       "--checkpoints-path", str(tmp_path / "run"), "--batch-size", "16", "--max-steps", "2",
                       "--sample", "0", "--validate", "false", "--save", "false"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1" in out or "epoch" in out.lower()
    assert "corrupt" not in out
