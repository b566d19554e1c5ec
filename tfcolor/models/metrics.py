"""Colorization metrics as streaming Keras metrics; each takes `(lab_true, lab_pred)` `(batch, H, W, 3)`.

- `PixelAccuracy`: the original code's metric, the share of pixels whose rounded L, a and b all lie within
  `threshold`, `2.2 * threshold` and `2.2 * threshold` of the truth.
- `PSNR`: peak signal-to-noise ratio of the RGB images (max value 1), averaged over images.
- `ABErrorAUC`: area under the CDF of the per-pixel ab error for thresholds 0..150, normalised to
  [0, 1] (Zhang, Isola, Efros 2016, "raw accuracy AuC").
- `SSIM`: structural similarity of the RGB images, averaged over images.
- `Colorfulness`: Hasler & Suesstrunk (2003) colourfulness of the *predicted* image alone, so a
  model that paints everything brown shows up even where its L1 looks good.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tfcolor.data import color

AB_TOLERANCE_FACTOR = 2.2
AUC_MAX_THRESHOLD = 150


def pixel_matches(lab_true: tf.Tensor, lab_pred: tf.Tensor, threshold: float) -> tf.Tensor:
    """Per-pixel 1.0/0.0: do the rounded L, a, b of the prediction lie within the original code's tolerances?"""
    diff = tf.abs(tf.round(tf.cast(lab_true, tf.float32)) - tf.round(tf.cast(lab_pred, tf.float32)))
    tolerance = tf.constant([1.0, AB_TOLERANCE_FACTOR, AB_TOLERANCE_FACTOR]) * threshold
    return tf.cast(tf.reduce_all(diff <= tolerance, axis=-1), tf.float32)


def ab_error(lab_true: tf.Tensor, lab_pred: tf.Tensor) -> tf.Tensor:
    """Per-pixel Euclidean distance in the ab plane."""
    return tf.norm(tf.cast(lab_true[..., 1:], tf.float32) - tf.cast(lab_pred[..., 1:], tf.float32), axis=-1)


@keras.saving.register_keras_serializable(package="tfcolor")
class PixelAccuracy(keras.metrics.Mean):
    """The original code's pixel accuracy at `threshold` (default 2, the original code's `--acc-thresh`)."""

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
class SSIM(keras.metrics.Mean):
    """Mean per-image structural similarity of the RGB renderings (11x11 Gaussian window)."""

    def __init__(self, name: str = "ssim", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, lab_true, lab_pred, sample_weight=None):
        ssim = tf.image.ssim(color.lab_to_rgb(lab_true), color.lab_to_rgb(lab_pred), max_val=1.0)
        return super().update_state(ssim, sample_weight)


def colorfulness(rgb: tf.Tensor) -> tf.Tensor:
    """Hasler & Suesstrunk's M = sigma_rgyb + 0.3 mu_rgyb per image of `(batch, H, W, 3)` RGB in [0, 1].

    Computed on the 0..255 scale of the paper: a gray image scores 0, "extremely colourful" ~ 109+.
    """
    rgb = tf.cast(rgb, tf.float32) * 255.0
    red, green, blue = tf.unstack(rgb, axis=-1)
    rg = tf.reshape(red - green, [tf.shape(rgb)[0], -1])
    yb = tf.reshape(0.5 * (red + green) - blue, [tf.shape(rgb)[0], -1])
    sigma = tf.sqrt(tf.math.reduce_variance(rg, axis=1) + tf.math.reduce_variance(yb, axis=1))
    mu = tf.sqrt(tf.reduce_mean(rg, axis=1) ** 2 + tf.reduce_mean(yb, axis=1) ** 2)
    return sigma + 0.3 * mu


@keras.saving.register_keras_serializable(package="tfcolor")
class Colorfulness(keras.metrics.Mean):
    """Mean colourfulness of the predicted images (the ground truth's is the same metric on `lab_true`)."""

    def __init__(self, name: str = "colorfulness", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, lab_true, lab_pred, sample_weight=None):
        return super().update_state(colorfulness(color.lab_to_rgb(lab_pred)), sample_weight)


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
