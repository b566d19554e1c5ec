"""Stitching images side by side: the grayscale | original | colorized grids of samples and reports."""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

# Cells are enlarged (nearest neighbour, whole factors) until their shorter side is at least this:
# a 32-px patch is a smudge at its own size.
MIN_CELL_SIDE = 128


def stitch_columns(columns: list[tf.Tensor], min_cell_side: int = MIN_CELL_SIDE) -> np.ndarray:
    """Columns of images, each `(n, H, W, 3)` float RGB in [0, 1] -> one uint8 grid `(n * f H, k * f W, 3)`.

    Row i shows image i of every column, left to right; `f` is the smallest whole factor that makes
    a cell's shorter side at least `min_cell_side` (1 for images that are already that large).
    """
    rows = tf.concat([tf.convert_to_tensor(c, tf.float32) for c in columns], axis=2)
    factor = max(1, math.ceil(min_cell_side / min(int(rows.shape[1]), int(rows.shape[2]) // len(columns))))
    if factor > 1:
        rows = tf.image.resize(rows, [rows.shape[1] * factor, rows.shape[2] * factor], method="nearest")
    grid = tf.reshape(rows, [-1, tf.shape(rows)[2], 3])
    return tf.image.convert_image_dtype(grid, tf.uint8, saturate=True).numpy()


def write_png(path, grid: np.ndarray) -> None:
    with open(path, "wb") as handle:
        handle.write(tf.io.encode_png(grid).numpy())
