"""`--augment-lightness`: the lightness the network sees varies per image, its a*b* target does not."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfcolor.config import DataConfig
from tfcolor.data import pipelines
from tfcolor.data.lightness import augment_lightness


def first_batches(config: DataConfig, start: int = 0, count: int = 3):
    stream = pipelines.make_pipelines(config, 8, seed=5, validate=False).train_from(start)
    return [(l_scaled.numpy(), ab.numpy()) for l_scaled, ab in stream.take(count)]


def test_lightness_changes_and_the_colour_target_stays_exactly_as_it_was():
    plain = first_batches(DataConfig(dataset="demo", demo_patches=32))
    augmented = first_batches(DataConfig(dataset="demo", demo_patches=32, augment_lightness=True))
    for (l_plain, ab_plain), (l_augmented, ab_augmented) in zip(plain, augmented, strict=True):
        np.testing.assert_array_equal(ab_augmented, ab_plain)
        assert np.abs(l_augmented - l_plain).mean() > 1e-3  # every batch is changed
        assert l_augmented.min() >= -1.0 and l_augmented.max() <= 1.0


def test_each_image_gets_its_own_draw_and_a_resumed_stream_the_same_draws():
    augmented = first_batches(DataConfig(dataset="demo", demo_patches=32, augment_lightness=True))
    resumed = first_batches(DataConfig(dataset="demo", demo_patches=32, augment_lightness=True), start=1, count=2)
    for (l_first, _), (l_again, _) in zip(augmented[1:], resumed, strict=True):
        np.testing.assert_array_equal(l_again, l_first)
    constant = tf.fill([4, 8, 8, 1], 0.2)
    means = tf.reduce_mean(augment_lightness(constant, tf.constant([1, 2], tf.int64)), axis=[1, 2, 3]).numpy()
    assert len(set(np.round(means, 4))) == 4  # four images, four gammas
