"""Colorization metrics as streaming Keras metrics; each takes `(lab_true, lab_pred)` `(batch, H, W, 3)`.

- `PixelAccuracy`: the seed's metric, the share of pixels whose rounded L, a and b all lie within
  `threshold`, `2.2 * threshold` and `2.2 * threshold` of the truth.
- `PSNR`: peak signal-to-noise ratio of the RGB images (max value 1), averaged over images.
- `ABErrorAUC`: area under the CDF of the per-pixel ab error for thresholds 0..150, normalised to
  [0, 1] (Zhang, Isola, Efros 2016, "raw accuracy AuC").
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tfcolor import color

AB_TOLERANCE_FACTOR = 2.2
AUC_MAX_THRESHOLD = 150


def pixel_matches(lab_true: tf.Tensor, lab_pred: tf.Tensor, threshold: float) -> tf.Tensor:
    """Per-pixel 1.0/0.0: do the rounded L, a, b of the prediction lie within the seed's tolerances?"""
    diff = tf.abs(tf.round(tf.cast(lab_true, tf.float32)) - tf.round(tf.cast(lab_pred, tf.float32)))
    tolerance = tf.constant([1.0, AB_TOLERANCE_FACTOR, AB_TOLERANCE_FACTOR]) * threshold
    return tf.cast(tf.reduce_all(diff <= tolerance, axis=-1), tf.float32)


def ab_error(lab_true: tf.Tensor, lab_pred: tf.Tensor) -> tf.Tensor:
    """Per-pixel Euclidean distance in the ab plane."""
    return tf.norm(tf.cast(lab_true[..., 1:], tf.float32) - tf.cast(lab_pred[..., 1:], tf.float32), axis=-1)


@keras.saving.register_keras_serializable(package="tfcolor")
class PixelAccuracy(keras.metrics.Mean):
    """The seed's pixel accuracy at `threshold` (default 2, the seed's `--acc-thresh`)."""

    def __init__(self, threshold: float = 2.0, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = float(threshold)

    def update_state(self, lab_true, lab_pred, sample_weight=None):
        return super().update_state(pixel_matches(lab_true, lab_pred, self.threshold), sample_weight)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="tfcolor")
class PSNR(keras.metrics.Mean):
    """Mean per-image PSNR in dB of the RGB rendering of both Lab images."""

    def __init__(self, name: str = "psnr", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, lab_true, lab_pred, sample_weight=None):
        psnr = tf.image.psnr(color.lab_to_rgb(lab_true), color.lab_to_rgb(lab_pred), max_val=1.0)
        # Identical images give +inf; cap at 100 dB so one perfect image does not swamp the mean.
        return super().update_state(tf.minimum(psnr, 100.0), sample_weight)


@keras.saving.register_keras_serializable(package="tfcolor")
class ABErrorAUC(keras.metrics.Metric):
    """Area under the cumulative distribution of per-pixel ab errors over thresholds 0..`max_threshold`."""

    def __init__(self, max_threshold: int = AUC_MAX_THRESHOLD, name: str = "auc", **kwargs):
        super().__init__(name=name, **kwargs)
        self.max_threshold = int(max_threshold)
        self.within = self.add_variable((self.max_threshold + 1,), "zeros", name="within", dtype="float64")
        self.pixels = self.add_variable((), "zeros", name="pixels", dtype="float64")

    def update_state(self, lab_true, lab_pred, sample_weight=None):
        # error <= t for an integer t exactly when ceil(error) <= t: a histogram of ceil(error) and
        # its running sum give the CDF at every threshold without a pixels x thresholds tensor.
        bins = tf.cast(tf.minimum(tf.math.ceil(tf.reshape(ab_error(lab_true, lab_pred), [-1])), self.max_threshold + 1), tf.int32)
        # unsorted_segment_sum rather than bincount: its output size is static, which XLA needs.
        histogram = tf.math.unsorted_segment_sum(tf.ones_like(bins, tf.float64), bins, self.max_threshold + 2)
        self.within.assign_add(tf.cumsum(histogram)[: self.max_threshold + 1])
        self.pixels.assign_add(tf.cast(tf.size(bins), tf.float64))

    def result(self):
        cdf = self.within / tf.maximum(self.pixels, 1.0)
        return tf.cast(tf.reduce_mean(cdf), tf.float32)

    def reset_state(self):
        self.within.assign(tf.zeros_like(self.within))
        self.pixels.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "max_threshold": self.max_threshold}
