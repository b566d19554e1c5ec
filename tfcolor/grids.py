"""Stitching images side by side: the grayscale | original | colorized grids of samples and reports."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def stitch_columns(columns: list[tf.Tensor]) -> np.ndarray:
    """Columns of images, each `(n, H, W, 3)` float RGB in [0, 1] -> one uint8 grid `(n * H, k * W, 3)`.

    Row i shows image i of every column, left to right.
    """
    rows = tf.concat([tf.convert_to_tensor(c, tf.float32) for c in columns], axis=2)
    grid = tf.reshape(rows, [-1, tf.shape(rows)[2], 3])
    return tf.image.convert_image_dtype(grid, tf.uint8, saturate=True).numpy()


def write_png(path, grid: np.ndarray) -> None:
    with open(path, "wb") as handle:
        handle.write(tf.io.encode_png(grid).numpy())
