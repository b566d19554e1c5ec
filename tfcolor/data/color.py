"""Colour maths: sRGB <-> CIE L*a*b* (D65) on tensors, and the network's [-1, 1] scalings.

Everything here is plain TensorFlow ops so it runs inside `tf.data`, `tf.function` and an exported
SavedModel alike. The formulas and constants are those of scikit-image's `rgb2lab`/`lab2rgb`
(sRGB primaries, D65 white), which the tests use as the independent reference.

Two colour spaces are offered, as in the original (ImagingLab) code:
- `lab` (default): the network sees `l_scaled = L/50 - 1` and predicts `ab_scaled = ab/110`.
- `rgb`: the network sees the luma scaled to [-1, 1] and predicts RGB scaled to [-1, 1].
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfcolor.config.rules import COLOR_SPACES

_RGB_TO_XYZ = [
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
]
_XYZ_TO_RGB = np.linalg.inv(np.array(_RGB_TO_XYZ)).tolist()
_D65_WHITE = [0.95047, 1.0, 1.08883]
_EPSILON = 0.008856  # (6/29)^3, where the cube root switches to its linear segment
_KAPPA = 7.787


def to_float_rgb(image: tf.Tensor) -> tf.Tensor:
    """Any integer or float image -> float32 RGB in [0, 1] (integers are scaled by their dtype max)."""
    image = tf.convert_to_tensor(image)
    if image.dtype.is_integer:
        return tf.image.convert_image_dtype(image, tf.float32)
    return tf.cast(image, tf.float32)


def _apply_matrix(pixels: tf.Tensor, matrix: tf.Tensor) -> tf.Tensor:
    return tf.tensordot(pixels, tf.transpose(matrix), axes=1)


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB `(..., 3)` (uint8 0..255 or float 0..1) -> Lab float32 `(..., 3)`: L in 0..100, a/b ~ -110..110."""
    rgb = tf.clip_by_value(to_float_rgb(rgb), 0.0, 1.0)
    linear = tf.where(rgb > 0.04045, tf.pow((rgb + 0.055) / 1.055, 2.4), rgb / 12.92)
    xyz = _apply_matrix(linear, tf.constant(_RGB_TO_XYZ)) / tf.constant(_D65_WHITE)
    f = tf.where(xyz > _EPSILON, tf.pow(tf.maximum(xyz, _EPSILON), 1.0 / 3.0), _KAPPA * xyz + 16.0 / 116.0)
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """Lab `(..., 3)` -> sRGB float32 in [0, 1] `(..., 3)`; out-of-gamut colours are clipped."""
    lab = tf.cast(lab, tf.float32)
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = tf.maximum(fy - b / 200.0, 0.0)
    f = tf.stack([fx, fy, fz], axis=-1)
    cubed = tf.pow(tf.maximum(f, 0.0), 3.0)
    xyz = tf.where(cubed > _EPSILON, cubed, (f - 16.0 / 116.0) / _KAPPA) * tf.constant(_D65_WHITE)
    linear = _apply_matrix(xyz, tf.constant(_XYZ_TO_RGB))
    rgb = tf.where(
        linear > 0.0031308,
        1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
        12.92 * linear,
    )
    return tf.clip_by_value(rgb, 0.0, 1.0)


def scale_lab(lab: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Lab `(..., 3)` -> (`l_scaled` `(..., 1)` = L/50 - 1, `ab_scaled` `(..., 2)` = ab/110), both ~[-1, 1]."""
    return lab[..., :1] / 50.0 - 1.0, lab[..., 1:] / 110.0


def unscale_lab(l_scaled: tf.Tensor, ab_scaled: tf.Tensor) -> tf.Tensor:
    """Inverse of `scale_lab`: (`l_scaled`, `ab_scaled`) -> Lab `(..., 3)`."""
    return tf.concat([(l_scaled + 1.0) * 50.0, ab_scaled * 110.0], axis=-1)


def output_channels(color_space: str) -> int:
    """How many channels the generator predicts in `color_space` (ab: 2, rgb: 3)."""
    check_color_space(color_space)
    return 2 if color_space == "lab" else 3


def check_color_space(color_space: str) -> None:
    if color_space not in COLOR_SPACES:
        raise ValueError(f"Unknown colour space {color_space!r}; expected one of {COLOR_SPACES}.")


def encode(rgb: tf.Tensor, color_space: str = "lab") -> tuple[tf.Tensor, tf.Tensor]:
    """RGB image(s) -> (network input `(..., 1)`, network target `(..., 2 or 3)`), all in [-1, 1]."""
    check_color_space(color_space)
    if color_space == "lab":
        return scale_lab(rgb_to_lab(rgb))
    rgb = tf.clip_by_value(to_float_rgb(rgb), 0.0, 1.0)
    return tf.image.rgb_to_grayscale(rgb) * 2.0 - 1.0, rgb * 2.0 - 1.0


def to_lab(inputs: tf.Tensor, outputs: tf.Tensor, color_space: str = "lab") -> tf.Tensor:
    """Network input and output (scaled) -> Lab `(..., 3)`, the space the metrics work in."""
    check_color_space(color_space)
    if color_space == "lab":
        return unscale_lab(inputs, outputs)
    return rgb_to_lab((tf.clip_by_value(outputs, -1.0, 1.0) + 1.0) / 2.0)


def to_rgb(inputs: tf.Tensor, outputs: tf.Tensor, color_space: str = "lab") -> tf.Tensor:
    """Network input and output (scaled) -> RGB float in [0, 1] `(..., 3)`."""
    check_color_space(color_space)
    if color_space == "lab":
        return lab_to_rgb(unscale_lab(inputs, outputs))
    return (tf.clip_by_value(outputs, -1.0, 1.0) + 1.0) / 2.0

