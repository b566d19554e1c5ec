"""Colorizing a photo of any size: ab predicted at the model's resolution, L kept at full resolution.

a*b* are brought back to the photo's size by `tfcolor.models.upsampling` (`bilinear` or `guided`). Graph
code throughout, so the same function serves the colorize CLI and exported SavedModels.
"""
from __future__ import annotations

import tensorflow as tf

from tfcolor.data import color
from tfcolor.data.images import resize_shorter_side
from tfcolor.models import upsampling
from tfcolor.models.colorizer import Colorizer


def predict_lab(model: Colorizer, rgb: tf.Tensor) -> tf.Tensor:
    """Float RGB `(batch, H, W, 3)` -> the model's Lab `(batch, H, W, 3)` at the same size.

    For Lab models L is the photo's own; for `rgb` models it is the one the model predicted.
    """
    inputs, _ = color.encode(rgb, model.color_space)
    return color.to_lab(inputs, model.predict_color(inputs), model.color_space)


def colorize_rgb(model: Colorizer, rgb: tf.Tensor, model_size: int,
                 upsample: str = upsampling.DEFAULT_METHOD) -> tf.Tensor:
    """One photo `(H, W, 3)` (uint8 or float in [0, 1], colour or gray) -> colorized RGB float `(H, W, 3)`.

    The photo is scaled so its shorter side is `model_size`, the model predicts its colours there,
    and those colours are brought back to the photo's size by `upsample` (`bilinear` or `guided`, see
    `upsampling.upsample_ab`) and joined to the photo's own full-resolution lightness.

    Raises:
        ValueError: `upsample` is not a method of `upsampling.METHODS`.
    """
    rgb = color.to_float_rgb(rgb)
    lightness = color.rgb_to_lab(rgb)[..., :1]
    small = resize_shorter_side(rgb, model_size)
    ab_small = predict_lab(model, small[tf.newaxis])[0, ..., 1:]
    ab = upsampling.upsample_ab(ab_small, lightness, upsample)
    return color.lab_to_rgb(tf.concat([lightness, ab], axis=-1))
