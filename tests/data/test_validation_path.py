"""`--validation-path`: validation reads the photos of that folder, not the dataset's own held-out split."""
from __future__ import annotations

import pytest

from tests.helpers import photo_crops, save_image
from tfcolor.config import DataConfig
from tfcolor.data import pipelines
from tfcolor.data.skips import DatasetError


def test_validation_reads_the_given_folder(tmp_path):
    for index, crop in enumerate(photo_crops(5, size=40, seed=3)):
        save_image(tmp_path / "elsewhere" / "sub" / f"{index}.png", crop)
    own = pipelines.make_pipelines(DataConfig(dataset="demo", demo_patches=16), 8, seed=0)
    other = pipelines.make_pipelines(DataConfig(dataset="demo", demo_patches=16,
                                                validation_path=str(tmp_path / "elsewhere")), 8, seed=0)
    assert sum(int(lightness.shape[0]) for lightness, _ in own.validation) == 48  # the demo's held-back patches
    batches = [lightness.numpy() for lightness, _ in other.validation]
    assert sum(len(b) for b in batches) == 5 and other.validation_examples == 5
    assert batches[0].shape[1:] == (32, 32, 1)


def test_a_validation_path_that_is_not_a_folder_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="--validation-path .* is not a folder of photos"):
        pipelines.make_pipelines(DataConfig(dataset="demo", validation_path=str(tmp_path / "nowhere")), 8, seed=0)
