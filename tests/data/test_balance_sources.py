"""`--source-balance`: how evenly the sources of a folder (file-name prefixes) are drawn."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import save_image
from tfcolor import config
from tfcolor.config import DataConfig
from tfcolor.data import pipelines
from tfcolor.data.sources import balanced_indices

# One colour per source, so a training crop tells which source it was cut from (by the signs of its a*b*).
SOURCE_COLOURS = {"big": (200, 40, 40), "small": (40, 160, 40), "tiny": (40, 40, 200)}
PHOTOS_PER_SOURCE = {"big": 24, "small": 3, "tiny": 1}


@pytest.fixture
def three_sources(tmp_path):
    for source, count in PHOTOS_PER_SOURCE.items():
        for index in range(count):
            photo = np.empty((40, 48, 3), np.uint8)
            photo[:] = SOURCE_COLOURS[source]
            photo[::2] //= 2  # stripes: not one flat colour, still one hue
            save_image(tmp_path / "train" / f"{source}-{index}.png", photo)
            save_image(tmp_path / "val" / f"{source}-{index}.png", photo)
    return tmp_path


def source_shares(folder, power: float, cache: bool, batches: int = 40) -> dict[str, float]:
    data = DataConfig(dataset="folder", dataset_path=str(folder), image_size=16, source_balance=power, cache=cache,
                      augment=False)
    stream = pipelines.make_pipelines(data, 8, seed=3, validate=False).train
    counts = dict.fromkeys(SOURCE_COLOURS, 0)
    for _, ab in stream.take(batches):
        for a, b in tf.reduce_mean(ab, axis=[1, 2]).numpy():
            # red: a > 0 and b > 0; green: a < 0; blue: b < 0
            counts["tiny" if b < -0.1 else "small" if a < -0.1 else "big"] += 1
    total = sum(counts.values())
    return {source: count / total for source, count in counts.items()}


@pytest.mark.parametrize("cache", [False, True], ids=["files", "cached"])
def test_at_power_1_each_source_is_drawn_about_equally_often(three_sources, cache):
    shares = source_shares(three_sources, power=1.0, cache=cache)
    assert all(0.23 < share < 0.43 for share in shares.values()), shares


def test_at_power_half_a_source_is_drawn_in_proportion_to_the_root_of_its_size(three_sources):
    shares = source_shares(three_sources, power=0.5, cache=True)
    roots = {source: count**0.5 for source, count in PHOTOS_PER_SOURCE.items()}  # 4.9 : 1.7 : 1
    expected = {source: root / sum(roots.values()) for source, root in roots.items()}  # 0.64, 0.23, 0.13
    assert all(abs(shares[source] - expected[source]) < 0.1 for source in expected), (shares, expected)


def test_without_balancing_the_large_source_dominates(three_sources):
    shares = source_shares(three_sources, power=0.0, cache=False)
    assert shares["big"] > 0.75 and shares["tiny"] < 0.1, shares


def test_balanced_draws_come_from_the_seed_alone():
    groups = np.array([0] * 50 + [1] * 2)
    first = list(balanced_indices(groups, 1.0, tf.constant([1, 2], tf.int64)).as_numpy_iterator())
    again = list(balanced_indices(groups, 1.0, tf.constant([1, 2], tf.int64)).as_numpy_iterator())
    other = list(balanced_indices(groups, 1.0, tf.constant([1, 3], tf.int64)).as_numpy_iterator())
    assert first == again != other and len(first) == 52
    assert 10 < sum(index >= 50 for index in first) < 42  # the group of 2 gets about half the draws


def test_balancing_needs_a_folder():
    with pytest.raises(config.ConfigError, match=r"data.source_balance \(--source-balance\): expected --dataset folder"):
        config.resolve({"source_balance": 0.5})
