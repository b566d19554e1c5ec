"""Colorization metrics as streaming Keras metrics; each takes `(lab_true, lab_pred)` `(batch, H, W, 3)`.

- `PixelAccuracy`: the original code's metric, the share of pixels whose rounded L, a and b all lie within
  `threshold`, `2.2 * threshold` and `2.2 * threshold` of the truth.
- `PSNR`: peak signal-to-noise ratio of the RGB images (max value 1), averaged over images.
- `ABErrorAUC`: area under the CDF of the per-pixel ab error for thresholds 0..150, normalised to
  [0, 1] (Zhang, Isola, Efros 2016, "raw accuracy AuC").
- `SSIM`: structural similarity of the RGB images, averaged over images.
- `Colorfulness`: Hasler & Suesstrunk (2003) colourfulness of the *predicted* image alone, so a
  model that paints everything brown shows up even where its L1 looks good.

Per-pixel and per-image functions beside them: `ciede2000` (the CIE's perceptual colour difference,
which full-resolution evaluation averages) and `colorfulness`.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfcolor.data import color

AB_TOLERANCE_FACTOR = 2.2
AUC_MAX_THRESHOLD = 150
# Identical images give +inf dB; capped, so one perfect image does not swamp a mean.
PSNR_CAP_DB = 100.0


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
        return super().update_state(tf.minimum(psnr, PSNR_CAP_DB), sample_weight)


@keras.saving.register_keras_serializable(package="tfcolor")
class SSIM(keras.metrics.Mean):
    """Mean per-image structural similarity of the RGB renderings (11x11 Gaussian window)."""

    def __init__(self, name: str = "ssim", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, lab_true, lab_pred, sample_weight=None):
        ssim = tf.image.ssim(color.lab_to_rgb(lab_true), color.lab_to_rgb(lab_pred), max_val=1.0)
        return super().update_state(ssim, sample_weight)


def _hypot(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    return tf.sqrt(tf.square(x) + tf.square(y))


def ciede2000(lab_reference: tf.Tensor, lab_sample: tf.Tensor) -> tf.Tensor:
    """Per-pixel CIEDE2000 colour difference ΔE00 of two Lab tensors `(..., 3)` -> `(...)` (kL = kC = kH = 1).

    The formulas of Sharma, Wu and Dalal, "The CIEDE2000 color-difference formula: implementation notes"
    (2005), the ones scikit-image's `deltaE_ciede2000` follows, in float32. About 1 is a difference a person
    just notices; a colour against gray of its lightness scores about its chroma, scaled down.
    """
    lab_reference, lab_sample = tf.cast(lab_reference, tf.float32), tf.cast(lab_sample, tf.float32)
    lightness_1, a_1, b_1 = tf.unstack(lab_reference, axis=-1)
    lightness_2, a_2, b_2 = tf.unstack(lab_sample, axis=-1)
    pow_25_7 = 25.0**7
    chroma_mean_7 = ((_hypot(a_1, b_1) + _hypot(a_2, b_2)) / 2.0) ** 7
    a_gain = 1.0 + 0.5 * (1.0 - tf.sqrt(chroma_mean_7 / (chroma_mean_7 + pow_25_7)))
    a_1, a_2 = a_1 * a_gain, a_2 * a_gain
    chroma_1, chroma_2 = _hypot(a_1, b_1), _hypot(a_2, b_2)
    two_pi = 2.0 * math.pi
    hue_1, hue_2 = tf.math.floormod(tf.atan2(b_1, a_1), two_pi), tf.math.floormod(tf.atan2(b_2, a_2), two_pi)
    chroma_product = chroma_1 * chroma_2
    achromatic = chroma_product == 0.0  # a hue of no colour: it neither differs nor counts in the mean hue
    hue_diff, hue_sum = hue_2 - hue_1, hue_1 + hue_2
    wrapped = tf.where(hue_diff > math.pi, hue_diff - two_pi, tf.where(hue_diff < -math.pi, hue_diff + two_pi, hue_diff))
    delta_hue = 2.0 * tf.sqrt(chroma_product) * tf.sin(tf.where(achromatic, 0.0, wrapped) / 2.0)
    far = tf.abs(hue_diff) > math.pi
    hue_mean = tf.where(achromatic, hue_sum, 0.5 * tf.where(
        far, tf.where(hue_sum < two_pi, hue_sum + two_pi, hue_sum - two_pi), hue_sum))
    degree = math.pi / 180.0
    t = (1.0 - 0.17 * tf.cos(hue_mean - 30.0 * degree) + 0.24 * tf.cos(2.0 * hue_mean)
         + 0.32 * tf.cos(3.0 * hue_mean + 6.0 * degree) - 0.20 * tf.cos(4.0 * hue_mean - 63.0 * degree))
    lightness_offset = tf.square((lightness_1 + lightness_2) / 2.0 - 50.0)
    chroma_mean = (chroma_1 + chroma_2) / 2.0
    rotation = -tf.sin(60.0 * degree * tf.exp(-tf.square((hue_mean / degree - 275.0) / 25.0))) * 2.0 * tf.sqrt(
        chroma_mean**7 / (chroma_mean**7 + pow_25_7))
    lightness_term = (lightness_2 - lightness_1) / (1.0 + 0.015 * lightness_offset / tf.sqrt(20.0 + lightness_offset))
    chroma_term = (chroma_2 - chroma_1) / (1.0 + 0.045 * chroma_mean)
    hue_term = delta_hue / (1.0 + 0.015 * chroma_mean * t)
    squared = tf.square(lightness_term) + tf.square(chroma_term) + tf.square(hue_term) + rotation * chroma_term * hue_term
    return tf.sqrt(tf.maximum(squared, 0.0))


def colorfulness(rgb: tf.Tensor) -> tf.Tensor:
    """Hasler & Suesstrunk's M = sigma_rgyb + 0.3 mu_rgyb per image of `(batch, H, W, 3)` RGB in [0, 1].

    rg = R - G and yb = (R + G) / 2 - B, signed, as the paper defines them (not their absolute values,
    as some later code has it: that raises the means and gives other numbers);
    sigma_rgyb = sqrt(var(rg) + var(yb)), mu_rgyb = sqrt(mean(rg)^2 + mean(yb)^2). Computed on the 0..255
    scale of the paper: a gray image scores 0, "extremely colourful" ~ 109+.
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
