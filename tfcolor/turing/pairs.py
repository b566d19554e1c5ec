"""The pairs a Turing test shows: each held-out photo beside its colorization, as PNG data URIs."""
from __future__ import annotations

import base64
import dataclasses

import tensorflow as tf

from tfcolor.data import color
from tfcolor.models import inference
from tfcolor.models.colorizer import Colorizer


@dataclasses.dataclass(frozen=True)
class Pair:
    """One photo: `real` and `colorized` are PNG data URIs of the same size."""

    pair_id: int
    real: str
    colorized: str


def data_uri(rgb: tf.Tensor) -> str:
    png = tf.io.encode_png(tf.image.convert_image_dtype(rgb, tf.uint8, saturate=True)).numpy()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def build_pairs(model: Colorizer, images: tf.data.Dataset, size: int) -> list[Pair]:
    """Up to `size` pairs from float RGB batches; the colorization keeps each photo's own L channel."""
    pairs: list[Pair] = []
    for rgb in images:
        lab = inference.predict_lab(model, rgb)
        true_lightness = color.rgb_to_lab(rgb)[..., :1]
        colorized = color.lab_to_rgb(tf.concat([true_lightness, lab[..., 1:]], axis=-1))
        for real, fake in zip(rgb, colorized):
            if len(pairs) == size:
                return pairs
            pairs.append(Pair(len(pairs), data_uri(real), data_uri(fake)))
    return pairs
